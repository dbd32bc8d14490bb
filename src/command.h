// Runs a program (`doctor` asks kubelet and CRI-O for their versions):
// bounded in time and output, no shell.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "result.h"

// argv[0] is looked up in PATH when it has no '/'. Returns stdout and
// stderr together (at most 64 KiB); an error when it cannot start, exits
// non-zero, or runs longer than `timeout` (it is then killed).
Result<std::string> run_command(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout);
