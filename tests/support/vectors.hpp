#pragma once
// Test data helpers: hex strings and the "key = value" vector files under tests/data/ (blocks
// separated by blank lines, '#' comments), as tests/tools/make_*_vectors.py write them.

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ipsecfs::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes hex(std::string_view text) {
    Bytes out;
    auto nibble = [](char c) -> uint8_t {
        if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
        if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
        if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
        FAIL("bad hex digit");
        return 0;
    };
    REQUIRE(text.size() % 2 == 0);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(nibble(text[i]) << 4 | nibble(text[i + 1])));
    }
    return out;
}

using VectorFields = std::map<std::string, std::string>;

// `relative` is a path under tests/data, e.g. "ah/group_vectors.txt".
inline std::vector<VectorFields> load_vector_file(const std::string& relative) {
    std::ifstream in(std::string(IPSECFS_TEST_DATA) + "/" + relative);
    REQUIRE(in.good());
    std::vector<VectorFields> out;
    VectorFields cur;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
            continue;
        }
        if (line[0] == '#') continue;
        const auto eq = line.find(" = ");
        if (eq == std::string::npos) {  // "key =": an empty value
            const auto bare = line.find(" =");
            REQUIRE(bare != std::string::npos);
            cur[line.substr(0, bare)] = "";
            continue;
        }
        cur[line.substr(0, eq)] = line.substr(eq + 3);
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

}  // namespace ipsecfs::testing
