// `hoso ui`: the officers' desk, a local web app over this laptop's store.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "app.hpp"
#ifdef HOSO_HAVE_UI
#include "hoso/ui/desk.hpp"
#endif

namespace hoso::cli {
namespace {
std::atomic<bool> g_ui_stop{false};
extern "C" void on_ui_signal(int) { g_ui_stop.store(true); }
}  // namespace

void register_ui(CLI::App& app) {
  auto* cmd = app.add_subcommand("ui", "The officers' desk: a web app on this laptop (open the address it prints)");
  struct O { Common c; std::string db, listen = "127.0.0.1:8080"; };
  auto o = std::make_shared<O>();
  cmd->add_option("--db", o->db, "This laptop's store")->required();
  cmd->add_option("--listen", o->listen, "HOST:PORT to serve on (loopback unless you mean otherwise; port 0: any free port)")
      ->capture_default_str();
  add_common(cmd, o->c, false);
  on_run(cmd, [o]() -> Status {
#ifdef HOSO_HAVE_UI
    if (auto t = now(); !t) return t.error();  // a malformed HOSO_NOW is an error up front
    ui::DeskOptions opt;
    opt.db = o->db;
    opt.listen = o->listen;
    if (const char* env = std::getenv("HOSO_NOW"); env && *env) opt.now = [] {
      auto t = now();
      return t ? *t : int64_t{0};
    };
    if (const char* p = std::getenv("HOSO_DEVICE_PASSPHRASE"); p && *p) opt.device_passphrase = p;
    std::string host = o->listen.substr(0, o->listen.rfind(':'));
    opt.on_listening = [host, as_json = o->c.json](uint16_t port) {
      std::string h = host == "0.0.0.0" || host == "::" || host == "[::]" ? "127.0.0.1" : host;
      std::string url = "http://" + h + ":" + std::to_string(port) + "/";
      if (as_json) print_json({{"url", url}, {"port", port}});
      else std::cout << "hoso ui: open " << url << " in a browser (Ctrl+C stops)" << std::endl;
    };
    opt.log = [](const std::string& s) { std::cerr << "hoso ui: " << s << std::endl; };
    std::signal(SIGTERM, on_ui_signal);
    std::signal(SIGINT, on_ui_signal);
    std::signal(SIGPIPE, SIG_IGN);
    return ui::serve_desk(opt, g_ui_stop);
#else
    return make_error(Errc::invalid_argument, "this hoso was built without the ui module");
#endif
  });
}

}  // namespace hoso::cli
