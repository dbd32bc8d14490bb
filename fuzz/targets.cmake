# The fuzz targets: fuzz/<name>_fuzz.cc, corpus fuzz/corpus/<name>/,
# dictionary fuzz/dict/<name>.dict.
set(FUZZ_TARGETS
  reference
  registries
  dockercfg
  request
  token
  duration
  kubeconfig
  http
  kubeapi
)
