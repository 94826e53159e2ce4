#include "serve_http.hpp"

#include <httplib.h>

#include <cstdio>
#include <cstdlib>

#include "mail.hpp"
#include "serve_util.hpp"

namespace loom::cli {

struct HttpError {
  int status;
  std::string code, message, hint;
};

namespace {

// Compares in time that depends on the lengths only, never on where the first difference is.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

void send(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(dump(body) + "\n", "application/json");
}

void send_error(httplib::Response& res, const HttpError& e) {
  send(res, e.status, {{"error", {{"code", e.code}, {"message", e.message}, {"hint", e.hint}}}});
}

HttpError engine_error(int status, const Error& e) {
  return {status, std::string(error_code_name(e.code)), e.message, e.hint};
}

Result<Json> parse_json_body(const std::string& text) {
  Json body = Json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return make_error(ErrorCode::kBadArgument, "the body is not a JSON object",
                      "send JSON, e.g. {\"workflow\": \"NAME\"}");
  }
  return body;
}

Json describe_workflow(const Workflow& wf) {
  Json inputs = Json::array();
  for (const auto& in : wf.inputs) {
    Json j = {{"name", in.name}, {"type", input_type_name(in.type)}, {"required", in.required}};
    if (in.default_value) j["default"] = *in.default_value;
    if (!in.description.empty()) j["description"] = in.description;
    inputs.push_back(std::move(j));
  }
  return {{"name", wf.name},
          {"description", wf.description},
          {"inputs", inputs},
          {"version", wf.version()}};
}

}  // namespace

HttpApi::HttpApi(const ServeOptions& options, const std::string& token,
                 const WorkflowLibrary& library, const Triggers& triggers, RunRegistry& runs)
    : o_(options), token_(token), library_(library), triggers_(triggers), runs_(runs) {}

bool HttpApi::authorized(const httplib::Request& req) const {
  std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0) return false;
  return same_secret(trim(auth.substr(prefix.size())), token_);
}

void HttpApi::install(httplib::Server& svr) {
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind("/api/", 0) != 0 || req.path == "/api/health" || authorized(req)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"loom\"");
    send_error(res, {401, "unauthorized", "a valid bearer token is required",
                     "send \"Authorization: Bearer TOKEN\"; the token is in --token-file, "
                     "LOOM_SERVE_TOKEN or "
                     "DATA/token"});
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's own refusals (no route, a body over --max-body, a malformed request) get the
  // same JSON error shape as ours.
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 413) {
          send_error(res, too_large());
        } else if (res.status == 404) {
          send_error(res,
                     {404, "not_found", "no such route", "the routes are listed in docs/serve.md"});
        } else {
          send_error(res, {res.status, "bad_request", "the request was refused", ""});
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  // A handler that throws (it should not) answers 500 without the exception's text.
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_error(
            res, {500, "internal", "the server failed on this request", "its stderr may say more"});
      });
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    std::fprintf(stderr, "%s %s -> %d\n", req.method.c_str(), req.path.c_str(), res.status);
  });

  svr.Get("/api/health", [](const httplib::Request&, httplib::Response& res) {
    send(res, 200, {{"status", "ok"}, {"version", kVersion}});
  });
  svr.Get("/api/workflows", [this](const httplib::Request&, httplib::Response& res) {
    Json list = Json::array();
    for (const auto& name : library_.names())
      list.push_back(describe_workflow(*library_.find(name)));
    send(res, 200, {{"workflows", list}});
  });
  using namespace std::placeholders;
  post(svr, "/api/runs", std::bind(&HttpApi::post_run, this, _1, _2, _3));
  svr.Get("/api/runs", [this](const httplib::Request&, httplib::Response& res) {
    send(res, 200, {{"runs", runs_.list()}});
  });
  const std::string run_path = R"(/api/runs/([A-Za-z0-9_.-]+))";
  svr.Get(run_path, [this](const httplib::Request& req, httplib::Response& res) {
    with_run(req, res,
             [&](RunRecord& r, const std::string&) { send(res, 200, runs_.describe(r)); });
  });
  svr.Get(run_path + "/events",
          [this](const httplib::Request& req, httplib::Response& res) { stream_events(req, res); });
  post(svr, run_path + "/answer", std::bind(&HttpApi::answer, this, _1, _2, _3));
  post(svr, run_path + "/cancel", std::bind(&HttpApi::cancel, this, _1, _2, _3));
  post(svr, "/api/inbound/email", std::bind(&HttpApi::inbound, this, _1, _2, _3));
}

HttpError HttpApi::too_large() const {
  return {413, "payload_too_large",
          "the body is larger than " + std::to_string(o_.max_body) + " bytes",
          "send less, or start the server with a larger --max-body"};
}

// A POST route whose handler gets the body, read here: at most --max-body bytes, whether the
// client announced its length (httplib refuses a larger Content-Length before reading) or sent
// chunks (counted as they come; httplib 0.11 would read them all).
void HttpApi::post(httplib::Server& svr, const std::string& pattern, BodyHandler handler) {
  svr.Post(pattern, [this, handler](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& read) {
    std::string body;
    bool too_big = false;
    bool complete = read([&](const char* data, std::size_t n) {
      too_big = too_big || body.size() + n > o_.max_body;
      if (!too_big) body.append(data, n);
      return !too_big;
    });
    if (too_big || res.status == 413) {
      res.set_header("Connection", "close");  // the rest of the body is not read
      return send_error(res, too_large());
    }
    if (!complete) return send_error(res, {400, "bad_request", "the body could not be read", ""});
    handler(req, body, res);
  });
}

// The run the route's path names; null after answering 404 unknown_run.
RunHandle HttpApi::run_or_404(const httplib::Request& req, httplib::Response& res) {
  auto r = runs_.find(req.matches[1]);
  if (!r) {
    send_error(res, {404, "unknown_run", "no run '" + std::string(req.matches[1]) + "'",
                     "GET /api/runs lists the runs"});
  }
  return r;
}

// Calls f(run, its id) for the run the route's path names, unless it answered 404.
template <class F>
void HttpApi::with_run(const httplib::Request& req, httplib::Response& res, F f) {
  if (auto r = run_or_404(req, res)) f(*r, std::string(req.matches[1]));
}

void HttpApi::post_run(const httplib::Request&, const std::string& text, httplib::Response& res) {
  auto body = parse_json_body(text);
  if (!body) return send_error(res, engine_error(400, body.error()));
  if (!body->contains("workflow") || !(*body)["workflow"].is_string()) {
    return send_error(res, {400, "bad_argument", "'workflow' must name a workflow",
                            "GET /api/workflows lists them"});
  }
  std::string name = (*body)["workflow"];
  auto wf = library_.find(name);
  if (!wf) {
    std::string near = nearest(name, library_.names());
    return send_error(
        res, {404, "unknown_workflow", "no workflow named '" + name + "'",
              near.empty() ? "GET /api/workflows lists them" : "did you mean '" + near + "'?"});
  }
  Json inputs = body->contains("inputs") ? (*body)["inputs"] : Json::object();
  if (!inputs.is_object()) {
    return send_error(res, {400, "bad_argument", "'inputs' must be a JSON object",
                            "e.g. {\"document\": \"...\"}"});
  }
  respond_started(res, 201, wf, inputs, Json());
}

// Starts the run and answers {id, status, workflow} (with the rule for a trigger), or the
// engine's error when the inputs do not fit.
void HttpApi::respond_started(httplib::Response& res, int status,
                              const std::shared_ptr<const Workflow>& wf, const Json& inputs,
                              const Json& trigger) {
  std::vector<Error> errors;
  auto id = runs_.start(wf, inputs, trigger, &errors);
  if (!id) {
    int code = id.error().code == ErrorCode::kHostError ? 500 : trigger.is_null() ? 400 : 422;
    HttpError e = engine_error(code, id.error());
    // The engine's hints for inputs speak of `loom run --input`; here they come in JSON.
    ErrorCode c = id.error().code;
    if (c == ErrorCode::kInputMissing || c == ErrorCode::kInputType ||
        c == ErrorCode::kInputUnknown) {
      e.hint =
          trigger.is_null()
              ? "GET /api/workflows lists the inputs of '" + wf->name + "' and their types"
              : "the rule '" + trigger.value("rule", "") + "' of " + o_.triggers + " gives them";
    }
    Json body = {{"error", {{"code", e.code}, {"message", e.message}, {"hint", e.hint}}}};
    if (errors.size() > 1) {
      for (const auto& x : errors)
        body["errors"].push_back({{"code", error_code_name(x.code)}, {"message", x.message}});
    }
    return send(res, code, body);
  }
  Json out = {{"id", *id}, {"workflow", wf->name}, {"status", "running"}};
  if (!trigger.is_null()) out["rule"] = trigger["rule"];
  res.set_header("Location", "/api/runs/" + *id);
  send(res, status, out);
}

void HttpApi::answer(const httplib::Request& req, const std::string& text, httplib::Response& res) {
  with_run(req, res, [&](RunRecord& r, const std::string& id) {
    auto body = parse_json_body(text);
    if (!body) return send_error(res, engine_error(400, body.error()));
    if (!body->contains("value")) {
      return send_error(
          res, {400, "bad_argument", "the answer has no 'value'", "send {\"value\": \"yes\"}"});
    }
    if (body->contains("step") && !(*body)["step"].is_string()) {
      return send_error(
          res, {400, "bad_argument", "'step' must be a step's path", "as in the run's questions"});
    }
    std::string step = body->value("step", "");
    AnswerOutcome outcome = runs_.answer(r, step, (*body)["value"]);
    switch (outcome.kind) {
      case AnswerOutcome::kNotWaiting:
        return send_error(res,
                          {409, "not_waiting",
                           step.empty() ? "the run is not waiting for an answer"
                                        : "the run is not waiting for an answer at '" + step + "'",
                           "GET /api/runs/" + id + " shows its questions"});
      case AnswerOutcome::kNotAChoice:
        return send_error(res, {400, "bad_answer", "the answer must be one of the choices",
                                "one of: " + dump(outcome.choices)});
      case AnswerOutcome::kAnswered:
        return send(res, 200, {{"id", id}, {"step", outcome.step}, {"answered", true}});
    }
  });
}

void HttpApi::cancel(const httplib::Request& req, const std::string&, httplib::Response& res) {
  with_run(req, res, [&](RunRecord& r, const std::string& id) {
    CancelOutcome outcome = runs_.cancel(r);
    if (outcome.already_ended) {
      return send_error(
          res, {409, "invalid_state", "the run has already ended", "it is " + outcome.status});
    }
    send(res, 202, {{"id", id}, {"status", outcome.status}});
  });
}

// Server-Sent Events: the persisted events after Last-Event-ID (or ?after=N), then the live
// ones, until the run ends (or the server stops). Each is `id: SEQ`, `event: TYPE`, `data: JSON`.
void HttpApi::stream_events(const httplib::Request& req, httplib::Response& res) {
  auto r = run_or_404(req, res);
  if (!r) return;
  std::string after_text = req.has_header("Last-Event-ID") ? req.get_header_value("Last-Event-ID")
                                                           : req.get_param_value("after");
  std::uint64_t after = std::strtoull(after_text.c_str(), nullptr, 10);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto sent = std::make_shared<std::uint64_t>(after);
  res.set_chunked_content_provider("text/event-stream", [this, r, sent](std::size_t,
                                                                        httplib::DataSink& sink) {
    EventBatch batch = runs_.wait_for_events(*r, *sent, std::chrono::seconds(10));
    std::string chunk;
    for (const auto& e : batch.events) {
      chunk += "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + e.line + "\n\n";
      *sent = e.seq;
    }
    if (chunk.empty() && !batch.end) chunk = ": still running\n\n";
    if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
    if (batch.end) sink.done();
    return true;
  });
}

void HttpApi::inbound(const httplib::Request& req, const std::string& body_text,
                      httplib::Response& res) {
  std::string type = req.get_header_value("Content-Type");
  type = ascii_lower(trim(type.substr(0, type.find(';'))));
  Result<Json> email = make_error(ErrorCode::kBadArgument, "");
  if (type == "application/json") {
    Json body = Json::parse(body_text, nullptr, false);
    email = body.is_discarded()
                ? Result<Json>(make_error(ErrorCode::kBadArgument, "the body is not JSON"))
                : email_from_json(body);
  } else if (type == "message/rfc822" || type == "text/plain" || type.empty()) {
    email = parse_rfc822(body_text);
  } else {
    return send_error(res, {415, "unsupported_media_type", "cannot read a '" + type + "' e-mail",
                            "send the raw message as message/rfc822, or JSON as application/json"});
  }
  if (!email) return send_error(res, {400, "bad_email", email.error().message, email.error().hint});
  const TriggerRule* rule = triggers_.route(*email);
  if (!rule) {
    std::fprintf(stderr, "inbound e-mail: no rule matches\n");
    return send_error(res,
                      {422, "no_trigger", "no rule of the triggers file matches this e-mail",
                       o_.triggers.empty() ? "start loom serve with --triggers FILE"
                                           : "add a rule to " + o_.triggers + " (docs/serve.md)"});
  }
  auto inputs = Triggers::inputs_for(*rule, *email);
  if (!inputs) return send_error(res, engine_error(422, inputs.error()));
  std::fprintf(stderr, "inbound e-mail: rule '%s' starts %s\n", rule->name.c_str(),
               rule->workflow.c_str());
  Json trigger = {{"rule", rule->name},
                  {"subject", (*email)["subject"]},
                  {"from", (*email)["from"]},
                  {"message_id", (*email)["message_id"]}};
  respond_started(res, 202, library_.find(rule->workflow), *inputs, trigger);
}

}  // namespace loom::cli
