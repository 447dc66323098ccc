// rte_eal_init with its diagnostics turned into one line.
//
// DPDK's EAL writes to the process's own stdout and stderr while it starts:
// getopt's complaint, log lines and, for a bad option, its whole usage text
// (about a hundred lines). echoflow promises one line and exit status 2 for
// a bad option, so the EAL's output during init is kept aside: on success it
// is passed on to stderr unchanged; on failure it is reduced to the line that
// names the problem.
#pragma once

#include <string>
#include <vector>

#include "flowgen/status.hpp"

namespace probe {

struct EalInitResult {
    flowgen::Status status;    // the one line, "EAL options: unrecognized option '--x'"
    bool usage_error = false;  // the EAL rejected its command line (exit status 2, else 1)
};

// Calls rte_eal_init(argv) (argv[0] first, as main received it). Main
// thread, before any other thread writes to stdout or stderr.
EalInitResult init_eal(std::vector<char*>& argv);

}  // namespace probe
