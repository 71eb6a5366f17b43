// hoso: one binary for the province, the server and the commune laptop.
#include <iostream>

#include "app.hpp"
#include "hoso/crypto/sodium.hpp"

namespace hoso::cli {
namespace {
Action g_selected;
}

// Runs the command chosen on the command line; maps its error to an exit code
// with one line on stderr.
int run_selected() {
  if (!g_selected) {
    std::cerr << "hoso: error: no command given (see --help)\n";
    return kExitUsage;
  }
  Status st;
  try {
    st = g_selected();
  } catch (const std::bad_alloc&) {
    st = make_error(Errc::internal, "out of memory");
  } catch (const std::exception& e) {
    st = make_error(Errc::internal, std::string("unexpected failure: ") + e.what());
  }
  if (st) return 0;
  std::string msg = st.error().message;
  for (char& c : msg)
    if (c == '\n') c = ' ';
  std::cerr << "hoso: error: " << msg << "\n";
  return verification_failed() ? kExitVerifyFailed : exit_code(st.error().code);
}

void on_run(CLI::App* cmd, Action action) {
  cmd->callback([action]() { g_selected = action; });
}

}  // namespace hoso::cli

int main(int argc, char** argv) {
  using namespace hoso::cli;
  hoso::crypto::init();
  CLI::App app{"hoso — offline-first, signed workflow for the one-stop desks of communes"};
  app.set_version_flag("--version", std::string("hoso ") + HOSO_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  register_key(app);
  register_authority(app);
  register_desk(app);
  register_sync(app);
  register_ops(app);
  register_ui(app);
  register_demo(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "hoso: error: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  return run_selected();
}
