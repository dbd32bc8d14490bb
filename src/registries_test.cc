#include "registries.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

RegistriesConf MustParse(const std::string& toml) {
  auto conf = parse_registries(toml, "test.conf");
  EXPECT_TRUE(conf.ok()) << (conf ? "" : conf.error().message);
  return conf ? *conf : RegistriesConf{};
}

std::vector<std::string> Sources(const RegistriesConf& conf,
                                 const std::string& image) {
  auto ref = parse_normalized_named(image);
  EXPECT_TRUE(ref.ok()) << image;
  const Registry* reg = find_registry(conf, ref->name());
  if (!reg) return {};
  auto sources = pull_sources(*reg, *ref);
  EXPECT_TRUE(sources.ok());
  std::vector<std::string> out;
  for (const auto& s : *sources) out.push_back(s.reference.str());
  return out;
}

std::vector<std::string> CredentialSources(const RegistriesConf& conf,
                                           const std::string& image) {
  auto ref = parse_normalized_named(image);
  const Registry* reg = find_registry(conf, ref->name());
  if (!reg) return {};
  std::vector<std::string> out;
  for (const auto& s : credential_sources(*reg, *ref))
    out.push_back(s.reference.str());
  return out;
}

const std::string kDigest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

TEST(Registries, RejectsInvalidConfigurations) {
  const std::pair<const char*, const char*> cases[] = {
      {"[registries.search]\nregistries = []\n", "v1"},
      {"[registries.block]\nregistries = [\"x.io\"]\n", "v1"},
      {"[[registry]]\nlocation = \"https://x.io\"\n", "URI schemes"},
      {"[[registry]]\nprefix = \"http://x.io\"\nlocation = \"x.io\"\n",
       "URI schemes"},
      {"[[registry]]\ninsecure = true\n", "both location and prefix are unset"},
      {"[[registry]]\nprefix = \"x.io\"\n", "location is unset"},
      {"[[registry]]\nprefix = \"*.x.io/path\"\nlocation = \"y.io\"\n",
       "*.example.com"},
      {"[[registry]]\nprefix = \"*.x.io:5000\"\n", "*.example.com"},
      {"[[registry]]\nlocation = \"x.io\"\npull-from-mirror = \"all\"\n",
       "non-mirror"},
      {"[[registry]]\nlocation = \"x.io\"\n[[registry.mirror]]\ninsecure = "
       "true\n",
       "mirror location is unset"},
      {"[[registry]]\nlocation = \"x.io\"\nmirror-by-digest-only = true\n"
       "[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"all\"\n",
       "at the same time"},
      {"[[registry]]\nlocation = \"x.io\"\n[[registry.mirror]]\nlocation = "
       "\"m.io\"\n"
       "pull-from-mirror = \"sometimes\"\n",
       "unsupported pull-from-mirror"},
      {"[[registry]]\nprefix = \"a.io\"\nlocation = \"x.io\"\ninsecure = true\n"
       "[[registry]]\nprefix = \"b.io\"\nlocation = \"x.io\"\n",
       "conflicting 'insecure'"},
      {"[[registry]]\nprefix = \"a.io\"\nlocation = \"x.io\"\nblocked = true\n"
       "[[registry]]\nprefix = \"b.io\"\nlocation = \"x.io\"\n",
       "conflicting 'blocked'"},
      {"[[registry]]\nlocation = \"x.io\"\ninsecure = \"yes\"\n",
       "must be a boolean"},
      {"[[registry]]\nlocation = 5\n", "must be a string"},
      {"[registry]\nlocation = \"x.io\"\n", "array of tables"},
      {"unqualified-search-registries = [\"not a domain\"]\n",
       "unqualified-search"},
      {"short-name-mode = \"sometimes\"\n", "short-name mode"},
      {"[aliases]\n\"docker.io/x\" = \"docker.io/library/x\"\n", "short name"},
      {"[aliases]\n\"x\" = \"x:1\"\n", "alias"},
      {"[[registry]\n", "line 1"},
  };
  for (const auto& [toml, why] : cases) {
    auto conf = parse_registries(toml, "bad.conf");
    ASSERT_FALSE(conf.ok()) << toml;
    EXPECT_NE(conf.error().message.find(why), std::string::npos)
        << toml << " -> " << conf.error().message;
    EXPECT_NE(conf.error().message.find("\"bad.conf\""), std::string::npos);
  }
}

TEST(Registries, AcceptsAndIgnoresUnknownKeys) {
  auto conf = MustParse(
      "unknown = 1\n[registries]\nfoo = 1\n[[registry]]\nlocation = \"x.io/\"\n"
      "whatever = true\n[aliases]\nnginx = \"docker.io/library/nginx\"\n");
  ASSERT_EQ(conf.registries.size(), 1u);
  EXPECT_EQ(conf.registries[0].prefix, "x.io");  // trailing '/' trimmed
}

TEST(Registries, LongestPrefixAndBoundaries) {
  auto conf = MustParse(R"(
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "m.io/hub"
[[registry]]
prefix = "docker.io/library/nginx"
location = "docker.io/library/nginx"
[[registry.mirror]]
location = "m.io/nginx-only"
[[registry]]
prefix = "docker.io/library/nginx"
location = "ignored.io/second-entry"
)");
  EXPECT_EQ(Sources(conf, "nginx:1"),
            (std::vector<std::string>{"m.io/nginx-only:1",
                                      "docker.io/library/nginx:1"}));
  // "nginx" is a prefix of "nginxinc" as a string, not at a boundary.
  EXPECT_EQ(Sources(conf, "docker.io/library/nginxinc:1"),
            (std::vector<std::string>{"m.io/hub/library/nginxinc:1",
                                      "docker.io/library/nginxinc:1"}));
  EXPECT_TRUE(Sources(conf, "quay.io/x:1").empty());
}

TEST(Registries, MirrorFiltersByTagAndDigest) {
  auto conf = MustParse(R"(
[[registry]]
prefix = "src.io"
location = "src.io"
[[registry.mirror]]
location = "all.io"
[[registry.mirror]]
location = "digest.io"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tag.io"
pull-from-mirror = "tag-only"
[[registry]]
location = "only-digests.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "dm.io"
)");
  EXPECT_EQ(
      Sources(conf, "src.io/a:1"),
      (std::vector<std::string>{"all.io/a:1", "tag.io/a:1", "src.io/a:1"}));
  EXPECT_EQ(
      Sources(conf, "src.io/a@" + kDigest),
      (std::vector<std::string>{"all.io/a@" + kDigest, "digest.io/a@" + kDigest,
                                "src.io/a@" + kDigest}));
  EXPECT_EQ(Sources(conf, "only-digests.io/a:1"),
            (std::vector<std::string>{"only-digests.io/a:1"}));
  EXPECT_EQ(Sources(conf, "only-digests.io/a@" + kDigest),
            (std::vector<std::string>{"dm.io/a@" + kDigest,
                                      "only-digests.io/a@" + kDigest}));
  // Credentials are wanted for every mirror whatever the tag or digest.
  EXPECT_EQ(CredentialSources(conf, "src.io/a"),
            (std::vector<std::string>{"all.io/a", "digest.io/a", "tag.io/a"}));
  EXPECT_EQ(CredentialSources(conf, "only-digests.io/a"),
            (std::vector<std::string>{"dm.io/a"}));
}

TEST(Registries, RewriteAndWildcard) {
  auto conf = MustParse(R"(
[[registry]]
prefix = "docker.io/team"
location = "corp.io/proxy/team"
[[registry]]
prefix = "*.example.com"
[[registry.mirror]]
location = "m.io/ex"
[[registry]]
prefix = "blocked.io"
location = "blocked.io"
blocked = true
[[registry.mirror]]
location = "m.io/blocked"
)");
  EXPECT_EQ(Sources(conf, "team/app:1"),
            (std::vector<std::string>{"corp.io/proxy/team/app:1"}));
  EXPECT_EQ(CredentialSources(conf, "team/app"),
            (std::vector<std::string>{"corp.io/proxy/team/app"}));
  EXPECT_EQ(Sources(conf, "a.b.example.com/x:1"),
            (std::vector<std::string>{"m.io/ex/x:1", "a.b.example.com/x:1"}));
  EXPECT_TRUE(Sources(conf, "example.com/x:1").empty());  // subdomains only
  EXPECT_EQ(CredentialSources(conf, "a.example.com/x"),
            (std::vector<std::string>{"m.io/ex/x"}));
  // Blocked applies to each source's own name, not to the matched entry.
  EXPECT_EQ(CredentialSources(conf, "blocked.io/x"),
            (std::vector<std::string>{"m.io/blocked/x"}));
}

TEST(Registries, UnrewritableSourcesNeedNoCredentials) {
  auto conf = MustParse(R"(
[[registry]]
location = "x.io/nginx"
[[registry.mirror]]
location = "localhost:5000"
[[registry.mirror]]
location = "m.io/nginx"
)");
  EXPECT_EQ(CredentialSources(conf, "x.io/nginx"),
            (std::vector<std::string>{"m.io/nginx"}));
}

TEST(Registries, KeysMatchCaseInsensitivelyLikeGo) {
  auto conf = MustParse(
      "[[Registry]]\nLOCATION = \"a.io\"\nInsecure = true\n\"bloc\xE2\x84\xAA"
      "ed\" = true\n"
      "[[Registry.MIRROR]]\nLocation = \"m.io\"\n");
  ASSERT_EQ(conf.registries.size(), 1u);
  EXPECT_TRUE(conf.registries[0].endpoint.insecure);
  EXPECT_TRUE(conf.registries[0].blocked);  // U+212A KELVIN SIGN folds to k
  ASSERT_EQ(conf.registries[0].mirrors.size(), 1u);
  EXPECT_FALSE(
      parse_registries("[Registries.Search]\nregistries = []\n", "x").ok());
  EXPECT_FALSE(parse_registries("Short-Name-Mode = \"bogus\"\n", "x").ok());
}

TEST(Registries, LocationWithin) {
  EXPECT_TRUE(location_within("m.io", "m.io"));
  EXPECT_TRUE(location_within("m.io/docker-hub", "m.io"));
  EXPECT_FALSE(location_within("m.io:5000", "m.io"));
  EXPECT_FALSE(location_within("m.iox", "m.io"));
  EXPECT_FALSE(location_within("m.io", "m.io/docker-hub"));
}

TEST(Registries, LoadsMainFileAndDropIns) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / ("ccp-reg-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "d");
  auto write = [](const fs::path& p, const std::string& s) {
    std::ofstream(p) << s;
  };
  write(dir / "main.conf",
        "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation "
        "= \"old.io\"\n");
  write(dir / "d" / "20-b.conf",
        "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation "
        "= \"b.io\"\n");
  write(dir / "d" / "10-a.conf",
        "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation "
        "= \"a.io\"\n");
  write(dir / "d" / "ignored.toml", "not toml at all [[[");

  RegistriesPaths paths{
      {(dir / "main.conf").string()}, true, {(dir / "d").string()}};
  auto conf = load_registries(paths);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(Sources(*conf, "nginx:1"),
            (std::vector<std::string>{"b.io/library/nginx:1",
                                      "docker.io/library/nginx:1"}));

  // An explicit main file must exist; default ones may be missing.
  auto missing = load_registries({{(dir / "nope.conf").string()}, true, {}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope.conf"), std::string::npos);
  EXPECT_TRUE(
      load_registries({{(dir / "nope.conf").string()}, false, {}}).ok());

  // The environment variable names a single file and turns drop-ins off.
  auto env = default_registries_paths("", (dir / "main.conf").c_str(),
                                      (dir / "d").string());
  EXPECT_TRUE(env.dropin_dirs.empty());
  EXPECT_TRUE(env.main_must_exist);
  auto explicit_wins = default_registries_paths("/x.conf", "/env.conf", "/d");
  EXPECT_EQ(explicit_wins.main_files, std::vector<std::string>{"/x.conf"});
  EXPECT_EQ(explicit_wins.dropin_dirs, std::vector<std::string>{"/d"});

  write(dir / "d" / "30-bad.conf", "[[registry]]\nlocation = \"https://x\"\n");
  auto bad = load_registries(paths);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("30-bad.conf"), std::string::npos);
  fs::remove_all(dir);
}

// Top-level settings merge as updateWithConfigurationFrom merges them.
TEST(Registries, MergesTopLevelSettings) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("ccp-reg-settings-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "d");
  std::ofstream(dir / "main.conf")
      << "unqualified-search-registries = [\"docker.io/\"]\n"
         "short-name-mode = \"enforcing\"\n"
         "credential-helpers = [\"ecr-login\"]\n";
  std::ofstream(dir / "d" / "a.conf") << "unqualified-search-registries = []\n";
  std::ofstream(dir / "d" / "b.conf") << "credential-helpers = []\n";
  auto conf = load_registries(
      {{(dir / "main.conf").string()}, true, {(dir / "d").string()}});
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->files.size(), 3u);
  EXPECT_TRUE(conf->unqualified_search_registries.empty());
  EXPECT_EQ(conf->search_registries_origin, (dir / "d" / "a.conf").string());
  EXPECT_EQ(effective_short_name_mode(*conf), "enforcing");
  EXPECT_EQ(effective_credential_helpers(*conf),
            std::vector<std::string>{"containers-auth.json"});

  auto main_only = load_registries({{(dir / "main.conf").string()}, true, {}});
  ASSERT_TRUE(main_only.ok());
  EXPECT_EQ(main_only->unqualified_search_registries,
            std::vector<std::string>{"docker.io"});
  EXPECT_EQ(effective_credential_helpers(*main_only),
            std::vector<std::string>{"ecr-login"});
  EXPECT_EQ(effective_short_name_mode(RegistriesConf{}), "permissive");
  fs::remove_all(dir);
}

// Files opened as go.podman.io/storage's configfile.Read opens them.
TEST(Registries, OpensFilesAsContainersImageDoes) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("ccp-reg-files-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "d" / "sub.conf");  // a directory: skipped
  std::ofstream(dir / "main.conf") << "[[registry]]\nlocation = \"a.io\"\n";
  std::ofstream(dir / "target") << "[[registry]]\nlocation = \"b.io\"\n";
  fs::create_symlink(dir / "target", dir / "d" / "10-link.conf");
  fs::create_symlink(dir / "missing", dir / "d" / "20-dangling.conf");
  RegistriesPaths paths{
      {(dir / "main.conf").string()}, true, {(dir / "d").string()}};
  auto conf = load_registries(paths);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->registries.size(), 2u);  // main and the linked file

  // A symlink to a directory is opened as a file, and fails.
  fs::create_directory_symlink(dir / "d" / "sub.conf", dir / "d" / "30.conf");
  auto linked_dir = load_registries(paths);
  ASSERT_FALSE(linked_dir.ok());
  EXPECT_NE(linked_dir.error().message.find("30.conf"), std::string::npos);
  fs::remove(dir / "d" / "30.conf");

  // A main file that is a directory fails even where a missing one would not.
  auto main_dir = load_registries({{(dir / "d").string()}, false, {}});
  ASSERT_FALSE(main_dir.ok());
  EXPECT_NE(main_dir.error().message.find("Is a directory"), std::string::npos);
  // A dangling default main file counts as missing: the next one is read.
  fs::create_symlink(dir / "missing", dir / "dangling.conf");
  auto next = load_registries(
      {{(dir / "dangling.conf").string(), (dir / "main.conf").string()},
       false,
       {}});
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->registries.size(), 1u);
  fs::remove_all(dir);
}

// BurntSushi/toml v1.6 (containers/image v5.40) reads TOML 1.1.
TEST(Registries, ReadsToml11AsContainersImageDoes) {
  auto conf = MustParse(
      "[[registry]]\nlocation = \"x.io\"\nmirror = [\n"
      "  { location = \"a.example.net\", pull-from-mirror = \"tag-only\" },\n"
      "  # a comment between entries\n"
      "  {\n    location = \"b.example.net\",\n  },\n]\n");
  ASSERT_EQ(conf.registries.size(), 1u);
  ASSERT_EQ(conf.registries[0].mirrors.size(), 2u);
  EXPECT_EQ(conf.registries[0].mirrors[0].pull_from_mirror, "tag-only");
  EXPECT_EQ(conf.registries[0].mirrors[1].location, "b.example.net");

  conf = MustParse(
      "[[registry]]\nprefix = \"x.io/\\x61\"\nlocation = \"y.io\\e\"\n"
      "t = 07:32\nd = 1979-05-27T07:32Z\nl = 1979-05-27 07:32\n");
  ASSERT_EQ(conf.registries.size(), 1u);
  EXPECT_EQ(conf.registries[0].prefix, "x.io/a");
  EXPECT_EQ(conf.registries[0].endpoint.location, "y.io\x1b");

  // A leading byte-order mark, UTF-8 or UTF-16, is skipped (parse.go).
  EXPECT_EQ(MustParse("\xEF\xBB\xBF[[registry]]\nlocation = \"x.io\"\n")
                .registries.size(),
            1u);
  EXPECT_EQ(MustParse("\xFF\xFE[[registry]]\nlocation = \"x.io\"\n")
                .registries.size(),
            1u);
}

TEST(Registries, RefusesWhatToml11Refuses) {
  const char* cases[] = {
      "a = { , }\n",                  // a comma before any pair
      "a = { b = 1,, }\n",            // two commas
      "a = { b\n= 1 }\n",             // a newline inside a pair
      "a = 1\nb+c = 2\n",             // '+' is not a bare-key character
      "[a+b]\n",                      // nor in a table header
      "a = { b+c = 1 }\n",            // nor in an inline table
      "a = 0x1.8p3\n",                // no hexadecimal floats
      "a = [1, 0x1p3]\n",             //
      "a = \"\\x4\"\n",               // \x takes two hex digits
      "t = 07:32.5\n",                // no fraction without seconds
      "k\xC3\xA9 = 1\n",              // non-ASCII bare key
      "\"k\" = 1\nz = 1 \xC2\xA0\n",  // non-ASCII where a value ends
  };
  for (const char* toml : cases)
    EXPECT_FALSE(parse_registries(toml, "t.conf").ok()) << toml;
  // Non-ASCII in strings and comments stays allowed.
  MustParse(
      "\"k\xC3\xA9\" = 'v\xC3\xA9' # \xC3\xBC\nm = \"\"\"\xC3\xA9\"\"\"\n");
}

// A repeated prefix keeps its first entry, a drop-in replaces an entry of the
// same prefix; both over many entries, in n log n.
TEST(Registries, RepeatedPrefixesAndDropInsAtScale) {
  std::string main, dropin;
  char entry[128];
  for (int i = 0; i < 20000; ++i) {
    std::snprintf(entry, sizeof entry,
                  "[[registry]]\nprefix = \"r%d.io\"\nlocation = \"m%d.io\"\n",
                  i % 10000, i);
    main += entry;
    if (i % 2 == 0) {
      std::snprintf(
          entry, sizeof entry,
          "[[registry]]\nprefix = \"r%d.io\"\nlocation = \"d%d.io\"\n",
          i % 10000, i);
      dropin += entry;
    }
  }
  RegistriesConf conf = MustParse(main);
  ASSERT_EQ(conf.registries.size(), 10000u);
  const Registry* r7 = find_registry(conf, "r7.io/x");
  ASSERT_NE(r7, nullptr);
  EXPECT_EQ(r7->endpoint.location, "m7.io");  // not m10007.io

  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / ("ccp-scale-" + std::to_string(::getpid()));
  fs::create_directories(dir / "d");
  std::ofstream(dir / "main.conf") << main;
  std::ofstream(dir / "d" / "a.conf") << dropin;
  auto loaded = load_registries(
      {{(dir / "main.conf").string()}, true, {(dir / "d").string()}});
  fs::remove_all(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->registries.size(), 10000u);
  EXPECT_EQ(find_registry(*loaded, "r8.io/x")->endpoint.location, "d8.io");
  EXPECT_EQ(find_registry(*loaded, "r7.io/x")->endpoint.location, "m7.io");
  EXPECT_TRUE(std::is_sorted(loaded->registries.begin(),
                             loaded->registries.end(),
                             [](const Registry& a, const Registry& b) {
                               return a.prefix < b.prefix;
                             }));
}

namespace {

std::string Describe(const Result<RegistriesConf>& conf) {
  if (!conf) return "error " + conf.error().kind + ": " + conf.error().message;
  auto endpoint = [](const Endpoint& e) {
    return e.location + (e.insecure ? " insecure" : "") +
           " pfm=" + e.pull_from_mirror;
  };
  std::string out;
  for (const Registry& r : conf->registries) {
    out += r.prefix + " -> " + endpoint(r.endpoint) +
           (r.blocked ? " blocked" : "") +
           (r.mirror_by_digest_only ? " digest-only" : "") + "\n";
    for (const Endpoint& m : r.mirrors) out += "  mirror " + endpoint(m) + "\n";
  }
  out += "search " + std::to_string(conf->has_search_registries) + ":";
  for (const auto& s : conf->unqualified_search_registries) out += " " + s;
  out += "\nmode " + conf->short_name_mode + "\nhelpers " +
         std::to_string(conf->has_credential_helpers) + ":";
  for (const auto& h : conf->credential_helpers) out += " " + h;
  return out;
}

// The same file with no line that is exactly "[[registry]]", which
// registries_parse.cc reads whole.
std::string Unsplittable(std::string toml) {
  for (size_t at = 0; (at = toml.find("[[registry]]", at)) != std::string::npos;
       at += 2)
    toml.replace(at, 12, "[[ registry ]]");
  return toml;
}

}  // namespace

// A file is read in pieces cut at its "[[registry]]" lines when that gives
// what reading it whole gives: entries of every shape across piece
// boundaries, and each error (TOML, settings, a header that could tie two
// pieces together) with the same message and line as a whole read.
TEST(Registries, ReadInPiecesAsReadWhole) {
  const char* shapes[] = {
      "[[registry]]\nprefix = \"p%d.io/ns\"\nlocation = \"l%d.io/ns/\"\n"
      "[[registry.mirror]]\nlocation = \"m%d.io\"\ninsecure = true\n",
      "# entry %d\n\n[[registry]]\r\nlocation = \"c%d.io\"  # crlf\r\n"
      "blocked = false\r\n",
      "[[registry]]\nlocation = \"i%d.io\"\nmirror = [\n  { location = "
      "\"im%d.io\", pull-from-mirror = \"digest-only\" }, # c\n]\n",
      "[[registry]]\nLocation = \"X%d.io\"\nlocation = \"x%d.io\"\n"
      "PREFIX = \"x%d.io\"\n",
      "[[registry]]\nlocation = \"s%d.io\"\n[registry.extra]\nk = 1\n"
      "[[registry.mirror]]\nlocation = \"sm%d.io\"\n",
      "[[registry]]\nlocation = \"t%d.io\"\nnote = \"\"\"\n[[registry]]\n"
      "\"\"\"\nlit = '''\n[[registry]]\n'''\n",
      "[[registry]]\nprefix = \"*.w%d.io\"\nmirror-by-digest-only = true\n"
      "[[registry.mirror]]\nlocation = \"wm%d.io\"\n",
      "[[registry]]\nlocation = \"p7.io/ns\"\n",  // a repeated location
  };
  std::string entries;
  char entry[512];
  for (int i = 0; i < 1200; ++i) {
    std::snprintf(entry, sizeof entry, shapes[i % std::size(shapes)], i, i, i);
    entries += entry;
  }
  const std::string top =
      "unqualified-search-registries = [\"a.io\"]\nshort-name-mode = "
      "\"enforcing\"\n[aliases]\n\"x/y\" = \"a.io/x/y\"\n";
  ASSERT_GT(entries.size(), 4u * 16384);  // several pieces
  // Inserted after the first entry, in the middle, before the last one.
  const char* inserts[] = {
      "",
      "[aliases]\nz = \"a.io/z\"\n",  // a second table of that name
      "[aliases.more]\n",             // a header another piece ties to
      "[registry]\n",                 // the array redefined as a table
      "[[Registry]]\nlocation = \"u.io\"\n",
      "[[registry]]\nlocation = \"bad\n",  // TOML error
      "[[registry]]\nlocation = \"q.io\"\nq = 1\nq = 2\n",
      "[[registry]]\nlocation = \"p7.io/ns\"\ninsecure = true\n",  // conflict
      "[[registry]]\nlocation = \"e.io\"\n[[registry.mirror]]\n",
      "[[registry]]\nlocation = \"x.io\"\ninsecure = \"yes\"\n",
      "[[registry]]\r\n",
      "[[registry]]\n[[registry]]\n",
      "[[registry.mirror]]\nlocation = \"orphan.io\"\n",
      "registry.x = 1\n",
  };
  size_t first_entry = entries.find("[[registry]]", 1);
  size_t middle = entries.find("[[registry]]", entries.size() / 2);
  size_t last = entries.rfind("[[registry]]");
  int pieces_errors = 0;
  for (const std::string& head :
       {top, std::string(), std::string("registry = []\n"),
        std::string("[[registry.mirror]]\nlocation = \"m.io\"\n")}) {
    for (const char* insert : inserts) {
      for (size_t at : {first_entry, middle, last, entries.size()}) {
        std::string toml = head + entries;
        toml.insert(head.size() + at, insert);
        auto pieces = parse_registries(toml, "t.conf");
        auto whole = parse_registries(Unsplittable(toml), "t.conf");
        std::string got = Describe(pieces), want = Describe(whole);
        ASSERT_TRUE(got == want)
            << "head " << head << " insert " << insert << " at " << at
            << "\nin pieces: " << got.substr(0, 300)
            << "\nwhole: " << want.substr(0, 300);
        pieces_errors += !pieces.ok();
      }
    }
  }
  EXPECT_GT(pieces_errors, 30);  // the errors above are errors
  auto conf = parse_registries(top + entries, "t.conf");
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->short_name_mode, "enforcing");
  const Registry* x = find_registry(*conf, "x3.io/a");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->endpoint.location, "x3.io");  // the exact spelling wins
}
