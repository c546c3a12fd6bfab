// ipsec: manages the SAs of ipsec-mountd with the FreeS/WAN command syntax.
#include <string>
#include <vector>

#include "mountd/lib/cli.hpp"

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    return ipsecfs::mountd::run_cli(args);
}
