#include <catch2/catch.hpp>

#include <string>

#include "fs/rendered_file.hpp"

namespace ipsecfs::fs {

TEST_CASE("a rendered file serves slices and an empty read at the end", "[fs]") {
    const RenderedFile f("esp.1000@192.0.2.2 ESP_AES_GCM_16: dir=out\n");
    REQUIRE(f.slice(0, 4096) == "esp.1000@192.0.2.2 ESP_AES_GCM_16: dir=out\n");
    REQUIRE(f.slice(0, 3) == "esp");
    REQUIRE(f.slice(4, 4) == "1000");
    REQUIRE(f.slice(f.size() - 1, 10) == "\n");
    REQUIRE(f.slice(f.size(), 10).empty());
    REQUIRE(f.slice(f.size() + 100, 10).empty());
    REQUIRE(f.slice(3, 0).empty());
}

TEST_CASE("reading a rendered file in small pieces gives back the whole text", "[fs]") {
    std::string text;
    for (int i = 0; i < 1000; ++i)
        text += "line " + std::to_string(i) + "\n";
    const RenderedFile f(text);
    for (std::size_t chunk : {1u, 7u, 4096u}) {
        std::string got;
        uint64_t off = 0;
        for (;;) {
            const std::string_view s = f.slice(off, chunk);
            if (s.empty()) break;
            got += s;
            off += s.size();
        }
        REQUIRE(got == text);
    }
}

TEST_CASE("an empty rendered file reads as empty", "[fs]") {
    const RenderedFile f("");
    REQUIRE(f.slice(0, 100).empty());
}

}  // namespace ipsecfs::fs
