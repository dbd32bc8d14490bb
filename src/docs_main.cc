// Build tool (`cmake --build build --target docs`): rewrites the generated
// blocks of docs/interface.md and the man page from the table in usage.cc.
#include <fstream>
#include <iostream>
#include <sstream>

#include "usage.h"

namespace {

bool WriteIfChanged(const std::string& path, const std::string& content) {
  std::ifstream in(path);
  std::ostringstream old;
  old << in.rdbuf();
  if (in && old.str() == content) return true;
  std::ofstream out(path, std::ios::trunc);
  out << content;
  std::cout << "rewrote " << path << "\n";
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: docs_main SOURCE_DIR\n";
    return 2;
  }
  std::string docs = std::string(argv[1]) + "/docs/";
  std::ifstream in(docs + "interface.md");
  std::ostringstream markdown;
  markdown << in.rdbuf();
  if (!in) {
    std::cerr << "cannot read " << docs << "interface.md\n";
    return 1;
  }
  bool ok = WriteIfChanged(docs + "interface.md",
                           regenerate_interface_markdown(markdown.str())) &&
            WriteIfChanged(docs + "crio-credential-provider.8", man_page());
  return ok ? 0 : 1;
}
