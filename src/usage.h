// The one table of subcommands and flags. --help prints it, and the flag
// sections of docs/interface.md and the man page crio-credential-provider(8)
// are generated from it (`cmake --build build --target docs`), so the three
// cannot drift: usage_test.cc fails when a checked-in file differs from what
// this table generates, or when parse_args takes a flag the table lacks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "flags.h"

// Which commands a flag applies to (a bit set of these).
enum CommandBit : unsigned {
  kForProvider = 1u << 0,
  kForResolve = 1u << 1,
  kForMatch = 1u << 2,
  kForKubeletConfig = 1u << 3,
  kForDoctor = 1u << 4,
  kForGateway = 1u << 5,
  kForHostsToml = 1u << 6,
  kForAll = 0x7f,
};

struct CommandDoc {
  Command command;
  std::string_view name;      // "" for the provider mode kubelet runs
  std::string_view synopsis;  // what follows the binary's name
  std::string_view summary;   // one sentence
};

struct FlagDoc {
  std::string_view name;   // without the leading "--"
  std::string_view value;  // e.g. "PATH"; empty for a boolean flag
  std::string_view default_value;
  std::string_view meaning;  // may hold `code` spans
  unsigned commands;         // CommandBit set
};

const std::vector<CommandDoc>& command_docs();
const std::vector<FlagDoc>& flag_docs();
const CommandDoc& command_doc(Command command);
unsigned command_bit(Command command);

// What --help prints for `command`.
std::string help_text(Command command);

// docs/interface.md with each generated block (between
// "<!-- generated: <command> -->" and "<!-- end generated -->") replaced by
// the synopsis and flag table of that command.
std::string regenerate_interface_markdown(std::string_view markdown);

// The whole man page crio-credential-provider(8), in roff.
std::string man_page();
