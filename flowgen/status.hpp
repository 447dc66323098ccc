// Start-up error reporting: a value that is either OK or carries one message
// naming the thing and the cause ("collector udp://x:1: getaddrinfo: Name or
// service not known"). Only main() turns it into an exit code. Not for the
// per-packet path: there a failure is a counter.
#pragma once

#include <string>
#include <utility>

namespace flowgen {

class [[nodiscard]] Status {
public:
    Status() = default;
    static Status error(std::string message) { return Status(std::move(message)); }

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const std::string& message() const noexcept { return message_; }

    // Prefix the message with context: "port 0: " + "rte_eth_dev_configure: -22".
    Status& prefix(const std::string& context) {
        if (failed_) message_ = context + ": " + message_;
        return *this;
    }

private:
    explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
    bool failed_ = false;
    std::string message_;
};

}  // namespace flowgen
