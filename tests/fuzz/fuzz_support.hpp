// What several fuzz targets share: the bundled pattern file, compiled once
// into echoflow's own pattern cache (detect/pattern_cache.hpp: keyed by
// everything the compile depends on), so that a target's start does not
// spend seconds compiling and a Worker per input loads it in milliseconds.
#pragma once

#include <string>

#include "detect/config.hpp"
#include "detect/pattern_cache.hpp"

namespace fuzz {

inline detect::Config detection_config() {
    detect::Config c;
    c.patterns_path = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    c.pattern_cache_dir = detect::PatternCache::default_dir();
    return c;
}

}  // namespace fuzz
