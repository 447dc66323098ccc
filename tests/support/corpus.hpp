// The nDPI capture corpus some tests read lives outside the repository; a
// clone without it must still pass: those cases skip, saying why.
#pragma once

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>

namespace tests::support {

// A Boost.Test precondition: true when `dir` holds the corpus (its
// README.md), otherwise false with a message, and the case is skipped.
inline boost::test_tools::assertion_result corpus_present(const std::string& dir) {
    boost::test_tools::assertion_result present(std::ifstream(dir + "/README.md").good());
    if (!present) present.message() << "nDPI corpus not found at " << dir << ": case skipped";
    return present;
}

}  // namespace tests::support
