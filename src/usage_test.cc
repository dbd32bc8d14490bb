#include "usage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace {

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(CCP_SOURCE_DIR) + "/" + relative);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const char* SampleValue(std::string_view flag) {
  if (flag == "api-identity") return "node";
  if (flag == "secrets") return "namespace";
  if (flag == "log-level") return "debug";
  if (flag == "cache-duration") return "0s";
  if (flag == "stale-after" || flag == "timeout" || flag == "ticket-ttl" ||
      flag == "pull-idle" || flag == "pull-max" || flag == "io-timeout" ||
      flag == "drain-timeout")
    return "30s";
  if (flag == "max-connections") return "64";
  if (flag == "runtime") return "containerd";
  if (flag == "mirror-registry") return "mirror.example.com";
  return "/some/path";
}

}  // namespace

// parse_args takes its flags from the table; each command's options struct
// must take every flag the table gives the command.
TEST(Usage, EveryDocumentedFlagParsesForItsCommands) {
  for (const CommandDoc& c : command_docs())
    for (const FlagDoc& f : flag_docs()) {
      if (!(f.commands & command_bit(c.command))) continue;
      std::vector<std::string> args;
      if (!c.name.empty()) args.emplace_back(c.name);
      args.push_back("--" + std::string(f.name));
      if (!f.value.empty()) args.emplace_back(SampleValue(f.name));
      auto p = parse_args(args);
      ASSERT_TRUE(p.ok()) << c.name << " --" << f.name << ": "
                          << p.error().message;
      EXPECT_EQ(p->command, c.command);
    }
}

TEST(Usage, DocsMatchTheTable) {
  std::string markdown = ReadSource("docs/interface.md");
  ASSERT_FALSE(markdown.empty());
  EXPECT_EQ(regenerate_interface_markdown(markdown), markdown)
      << "docs/interface.md is out of date: run `cmake --build build "
         "--target docs`";
  for (const CommandDoc& c : command_docs()) {
    std::string name = c.name.empty() ? "provider" : std::string(c.name);
    EXPECT_NE(markdown.find("<!-- generated: " + name + " -->"),
              std::string::npos)
        << "docs/interface.md has no generated block for " << name;
  }
  EXPECT_EQ(ReadSource("docs/crio-credential-provider.8"), man_page())
      << "the man page is out of date: run `cmake --build build --target "
         "docs`";
}

TEST(Usage, HelpListsTheCommandsAndOnlyTheFlagsOfEach) {
  std::string top = help_text(Command::kProvider);
  for (const CommandDoc& c : command_docs()) {
    if (c.name.empty()) continue;
    EXPECT_NE(top.find("  " + std::string(c.name) + " "), std::string::npos)
        << c.name;
  }
  EXPECT_NE(top.find("--auth-dir DIR"), std::string::npos);
  EXPECT_EQ(top.find("--dockercfg"), std::string::npos);
  std::string match = help_text(Command::kMatch);
  EXPECT_NE(match.find("Usage: crio-credential-provider match"),
            std::string::npos);
  EXPECT_NE(match.find("--dockercfg FILE"), std::string::npos);
  EXPECT_EQ(match.find("--auth-dir"), std::string::npos);
  for (const CommandDoc& c : command_docs()) {
    std::istringstream lines(help_text(c.command));
    for (std::string line; std::getline(lines, line);)
      EXPECT_LE(line.size(), 79u) << line;
  }
}

TEST(Usage, HelpFlagParsesForEveryCommand) {
  for (const char* first : {"--help", "-h"}) {
    auto top = parse_args({first});
    ASSERT_TRUE(top.ok());
    EXPECT_TRUE(top->help);
    auto sub = parse_args({"resolve", first});
    ASSERT_TRUE(sub.ok());
    EXPECT_EQ(sub->command, Command::kResolve);
    EXPECT_TRUE(sub->help);
  }
}

TEST(Usage, MarkdownBlocksAreReplacedNotAppended) {
  std::string text =
      "intro\n<!-- generated: match -->\nstale\n<!-- end generated -->\nend\n";
  std::string once = regenerate_interface_markdown(text);
  EXPECT_EQ(once.find("stale"), std::string::npos);
  EXPECT_NE(once.find("| `--dockercfg FILE` |"), std::string::npos);
  EXPECT_EQ(regenerate_interface_markdown(once), once);
  EXPECT_TRUE(once.starts_with("intro\n"));
  EXPECT_TRUE(once.ends_with("<!-- end generated -->\nend\n"));
}
