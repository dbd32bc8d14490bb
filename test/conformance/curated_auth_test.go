package conformance

func sec(entries ...secretEntry) []secretFile { return []secretFile{{Entries: entries}} }

// Hand-written auth-file cases: containers/image reads the file back.
var curatedAuth = []rawAuthCase{
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io/cache\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "m", Password: "mp"}, secretEntry{Key: "example.com", Username: "e", Password: "ep"})},
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io/cache\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "m", Password: "mp"}),
		Global:  map[string]string{"mirror.io/cache": "g:gp"}},
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io/cache\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io/cache/ns", Username: "m", Password: "mp"}),
		Global:  map[string]string{"mirror.io/cache/ns/repo": "g:gp", "example.com": "ge:gep"}},
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n[[registry.mirror]]\nlocation = \"mirror.io/other\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io/ns", Username: "m", Password: "mp"})},
	{Reg: rawRegCase{Image: "quay.io/ns/repo:1", Main: "[[registry]]\nprefix = \"quay.io/ns\"\nlocation = \"mirror.io:5000/q\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io:5000", Username: "m", Password: "mp:with:colons"})},
	{Reg: rawRegCase{Image: "nginx:1", Main: "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"docker.io/mirror\"\n"},
		Secrets: sec(secretEntry{Key: "docker.io/mirror", Username: "m", Password: "mp"}, secretEntry{Key: "index.docker.io", Username: "d", Password: "dp"}),
		Global:  map[string]string{"https://index.docker.io/v1/": "g:gp"}},
	{Reg: rawRegCase{Image: "nginx:1", Main: "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"registry-1.docker.io/mirror\"\n"},
		Secrets: sec(secretEntry{Key: "registry-1.docker.io", Username: "m", Password: "mp"}),
		Global:  map[string]string{"docker.io": "g:gp"}},
	{Reg: rawRegCase{Image: "a.example.com/x:1", Main: "[[registry]]\nprefix = \"*.example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n"},
		Secrets: sec(secretEntry{Key: "*.io", Username: "w", Password: "wp"})},
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n"},
		Secrets: []secretFile{{Entries: []secretEntry{{Key: "mirror.io", Username: "a", Password: "1"}}}, {Entries: []secretEntry{{Key: "mirror.io/ns/repo", Username: "b", Password: "2"}}}}},
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n"},
		Secrets: sec(secretEntry{Key: "https://mirror.io/v1/", Username: "a", Password: "1"})},
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n"},
		Secrets: sec(secretEntry{Key: "nomatch.io", Username: "a", Password: "1"}),
		Global:  map[string]string{"mirror.io": "g:gp"}},
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nprefix = \"example.com\"\nlocation = \"rewrite.io/x\"\n"},
		Secrets: sec(secretEntry{Key: "rewrite.io/x", Username: "a", Password: "1"}),
		Global:  map[string]string{"rewrite.io": "g:gp", "example.com": "h:hp"}},
	// a username with ':' cannot be written into an auth.json "auth" field
	{Reg: rawRegCase{Image: "example.com/ns/repo:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "a:b", Password: "p", Form: 2})},
	// blocked is checked per pull source: the rewrite and the mirrors of a
	// blocked prefix are still pulled from
	{Reg: rawRegCase{Image: "a.example.com/x:1", Main: "[[registry]]\nprefix = \"*.example.com\"\nlocation = \"mirror.io/x\"\nblocked = true\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "m", Password: "mp"})},
	{Reg: rawRegCase{Image: "example.com/x:1", Main: "[[registry]]\nlocation = \"example.com\"\nblocked = true\n[[registry.mirror]]\nlocation = \"mirror.io\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "m", Password: "mp"})},
	{Reg: rawRegCase{Image: "example.com/x:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n[[registry]]\nlocation = \"mirror.io\"\nblocked = true\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "m", Password: "mp"})},
	// the provider cannot know the pull's tag or digest: a tag-only mirror that
	// cannot be rewritten must not fail a digest pull
	{Reg: rawRegCase{Image: "registry.io/ns/re" + dgst, Main: "[[registry]]\nlocation = \"registry.io/ns/re\"\n[[registry.mirror]]\nlocation = \"localhost:5000\"\npull-from-mirror = \"tag-only\"\n[[registry.mirror]]\nlocation = \"mirror.io/ok\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "m", Password: "mp"})},
	// a key written for a mirror's repository also answers for a deeper
	// repository on the same host (containers/image tries path prefixes)
	{Reg: rawRegCase{Image: "mirror.io/library/library:latest", Main: "[[registry]]\nlocation = \"mirror.io/library\"\n[[registry.mirror]]\nlocation = \"mirror.io\"\n"},
		Secrets: sec(secretEntry{Key: "https://mirror.io", Username: "m", Password: "mp"})},
	// TOML keys are case-insensitive for containers/image
	{Reg: rawRegCase{Image: "example.com/x:1", Main: "[[registry]]\nlocation = \"example.com\"\n[[registry.mirror]]\nLocation = \"mirror.io\"\n"},
		Secrets: sec(secretEntry{Key: "mirror.io", Username: "m", Password: "mp"})},
}
