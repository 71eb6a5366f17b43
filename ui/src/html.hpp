// Text put into HTML by the desk and the dashboard alike.
#pragma once

#include <string>
#include <string_view>

namespace hoso::ui {

// Escapes the five characters that matter in element content and in quoted
// attribute values (& < > " ').
std::string html_escape(std::string_view s);

}  // namespace hoso::ui
