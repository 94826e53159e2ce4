// `loom graph`: a workflow's DAG as Mermaid, Graphviz DOT, or a layered ASCII view.
#pragma once

#include <string>

#include "loom/workflow.hpp"

namespace loom::cli {

std::string graph_mermaid(const Workflow& workflow);
std::string graph_dot(const Workflow& workflow);
std::string graph_ascii(const Workflow& workflow);

}  // namespace loom::cli
