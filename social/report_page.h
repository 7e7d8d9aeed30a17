// The report's page: HTML, CSS and script, all inline (no network). The data goes in as one JSON block.
#pragma once

namespace tern::social {
extern const char* const kReportHead;  // up to the data block
extern const char* const kReportTail;  // after the data block: the drawing script
}  // namespace tern::social
