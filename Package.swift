// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "pasta-swift",
    products: [
        .executable(name: "pasta", targets: ["pasta"]),
        .executable(name: "kata-passt-endpoint", targets: ["kata-passt-endpoint"]),
        .executable(name: "podman-netplugin", targets: ["podman-netplugin"]),
        .library(name: "PastaCore", targets: ["PastaCore"]),
    ],
    targets: [
        .target(name: "CLinux"),
        .target(name: "PastaCore", dependencies: ["CLinux"]),
        .executableTarget(name: "pasta", dependencies: ["PastaCore"]),
        // Standalone (Glibc only): starts, checks and stops passt processes; none of the datapath.
        .executableTarget(name: "kata-passt-endpoint"),
        .testTarget(name: "PastaCoreTests", dependencies: ["PastaCore"]),
        .testTarget(name: "KataPasstEndpointTests", dependencies: ["kata-passt-endpoint"]),
        // The Podman OCI hook: its parsers and logic in a library the tests can reach.
        .target(name: "PodmanNetplugin", dependencies: ["PastaCore"]),
        .executableTarget(name: "podman-netplugin", dependencies: ["PodmanNetplugin", "PastaCore"]),
        .testTarget(name: "PodmanNetpluginTests", dependencies: ["PodmanNetplugin", "PastaCore"]),
    ]
)

// Fuzz harnesses (Fuzz/), only when scripts/fuzz.sh sets PASTA_FUZZ: they link libFuzzer, which only a
// sanitizer build provides, and plain builds and tests never compile them. PASTA_FUZZ_PLANTED_BUG builds
// the harnesses with a bounds check removed, to show the fuzzer finds it.
if Context.environment["PASTA_FUZZ"] != nil {
    let planted = Context.environment["PASTA_FUZZ_PLANTED_BUG"] != nil
    package.targets += [
        .target(name: "LibFuzzerDriver", path: "Fuzz/LibFuzzerDriver"),
        .executableTarget(name: "pasta-fuzz", dependencies: ["LibFuzzerDriver", "PastaCore", "PodmanNetplugin"],
                          path: "Fuzz/Harnesses",
                          swiftSettings: planted ? [.define("FUZZ_PLANTED_BUG")] : []),
    ]
}
