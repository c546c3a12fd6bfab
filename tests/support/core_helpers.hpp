#pragma once
// Parsing shorthands for core tests: each REQUIREs that its text is valid.

#include <catch2/catch.hpp>
#include <string>

#include "core/address.hpp"
#include "core/command.hpp"
#include "core/said.hpp"

namespace ipsecfs::testing {

inline IpAddress ip(const std::string& text) {
    auto a = IpAddress::parse(text);
    REQUIRE(a.ok());
    return *a;
}

inline Said said(const std::string& text) {
    auto s = Said::parse(text);
    REQUIRE(s.ok());
    return *s;
}

// One `ipsec …` line as the CLI would split and parse it.
inline Command command(const std::string& line) {
    auto w = split_command_line(line);
    REQUIRE(w.ok());
    auto c = parse_command(*w);
    INFO(line << "\n  -> " << (c.ok() ? std::string("ok") : c.error()));
    REQUIRE(c.ok());
    return *c;
}

}  // namespace ipsecfs::testing
