// Package conformance holds the differential test suite of
// crio-credential-provider: generated inputs are fed both to the provider
// binary (`resolve --json`, `match --json`) and to the real libraries it has
// to agree with, and every difference is reported with a minimized reproducer.
//
// Areas (one seeded generator and one curated table each):
//
//  1. references: `resolve --json IMAGE` with an empty registries.conf against
//     go.podman.io/image/v5/docker/reference.ParseNormalizedNamed (accept or
//     reject, reference, name, authFile).
//  2. registries: generated registries.conf + drop-ins (valid and invalid)
//     crossed with references, against sysregistriesv2.FindRegistry (on the
//     repository name, as docker_image_src does) and
//     Registry.PullSourcesFromReference (for the reference as given).
//  3. match: `match --json --dockercfg ...` against kubelet's
//     credentialprovider.BasicDockerKeyring (Add per secret, Lookup).
//     Entries of one key from one secret come in Go map order in kubelet, so
//     they are compared as a set; everything else in order.
//  4. authfile: `resolve --json --dockercfg ... --auth-file-out F` against
//     pkg/docker/config.GetCredentialsForRef reading F (or the global auth
//     file when F is not written, as CRI-O does). The expected credential
//     sources are every mirror of the matched registry (the provider sees only
//     the bare name, so pull-from-mirror cannot apply) whose rewrite
//     containers/image accepts, then the rewritten location; sources whose own
//     name is blocked are left out (containers/image checks blocked per pull
//     source). The expected credential for a source is kubelet's first
//     non-fallback keyring match for the source's name whose user name has no
//     ':' (an auth file entry cannot carry one). A source that gets no
//     credential of ours must read from our file what it reads from the
//     global one, or a credential kubelet's keyring also offers it (a deeper
//     repository on a mirror's host finds that mirror's entry).
//  5. toml11: area 2's questions for registries.conf written in TOML 1.1's
//     forms (multi-line inline tables with trailing commas and comments, \e
//     and \xHH escapes, literal strings, times without seconds, and what
//     BurntSushi/toml refuses) and laid out as configfile.Read must open them
//     (dangling symlinks, symlinks to files, directories and each other,
//     loops, a directory as the main file). resolve --json's `kind` of a
//     load error, `registry.mirrors` and `configuration` (files read,
//     search registries, short-name mode, credential helpers) are compared
//     in areas 2 and 5; each pull source's `authFileCredential` in area 4.
//  6. secretjson: area 3's questions for pull secrets written by hand as
//     Go's encoding/json reads them (field names in any case or Unicode
//     folding, a field twice, \u escapes, line breaks inside "auth", null,
//     a byte-order mark, trailing data) with keyring keys Go 1.26's
//     url.Parse refuses or reads oddly.
//
// Run from test/:
//
//	go test ./conformance/...                                    # CI: seed 1, 10000 cases per area
//	go test ./conformance -run Generated -args -seed=7 -n=200000 # a longer run
//	go test ./conformance -run Curated                           # the curated tables only
//
// Flags (after -args): -seed (default 1), -n (cases per area, default
// 10000), -minimize (shrink disagreements, default true), -maxreport
// (distinct disagreements reported per area, default 25), -workers (default
// NumCPU). The binary is $CRIO_CREDENTIAL_PROVIDER_BIN, else
// ../build/crio-credential-provider relative to test/ (a missing binary fails
// the suite).
package conformance
