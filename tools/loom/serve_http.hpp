// The HTTP API of `loom serve` (docs/serve.md): the routes under /api (health, workflows, runs,
// a run's state, its events as Server-Sent Events, answer, cancel) and the inbound e-mail webhook
// that routes a mail by the triggers file to a workflow. Every /api route but /api/health wants
// the bearer token; a POST body is read up to --max-body bytes; every refusal, httplib's own
// included, is a JSON error {"error": {code, message, hint}}. The runs themselves are the
// registry's (serve_runs.hpp).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "loom/loom.hpp"
#include "serve.hpp"
#include "serve_runs.hpp"
#include "triggers.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace loom::cli {

struct HttpError;

/// The routes. Everything given to the constructor must outlive the server they are installed
/// on; the library and the triggers are only read. Thread-safe: the handlers run on httplib's
/// workers, and all they change goes through the registry.
class HttpApi {
 public:
  HttpApi(const ServeOptions& options, const std::string& token, const WorkflowLibrary& library,
          const Triggers& triggers, RunRegistry& runs);

  /// Installs the routes, the bearer token check, the JSON error handlers and the request log
  /// (one line on stderr per request) on `svr`.
  void install(httplib::Server& svr);

 private:
  using BodyHandler =
      std::function<void(const httplib::Request&, const std::string&, httplib::Response&)>;
  void post(httplib::Server& svr, const std::string& pattern, BodyHandler handler);
  bool authorized(const httplib::Request& req) const;
  HttpError too_large() const;
  RunHandle run_or_404(const httplib::Request& req, httplib::Response& res);
  template <class F>
  void with_run(const httplib::Request& req, httplib::Response& res, F f);
  void post_run(const httplib::Request& req, const std::string& text, httplib::Response& res);
  void respond_started(httplib::Response& res, int status,
                       const std::shared_ptr<const Workflow>& wf, const Json& inputs,
                       const Json& trigger);
  void answer(const httplib::Request& req, const std::string& text, httplib::Response& res);
  void cancel(const httplib::Request& req, const std::string& text, httplib::Response& res);
  void stream_events(const httplib::Request& req, httplib::Response& res);
  void inbound(const httplib::Request& req, const std::string& body_text, httplib::Response& res);

  const ServeOptions& o_;
  const std::string& token_;
  const WorkflowLibrary& library_;
  const Triggers& triggers_;
  RunRegistry& runs_;
};

}  // namespace loom::cli
