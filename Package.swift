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
        // The datapath and its configuration: pasta and passt.
        .target(name: "PastaCore", dependencies: ["CLinux"]),
        // What the adapters share (Glibc only): the bounded JSON parser and serializer, and the launcher
        // that starts pasta or passt and waits until it is ready.
        .target(name: "AdapterSupport"),
        // The slirp4netns drop-in: its command line and its API socket (served in PastaCore's event loop).
        .target(name: "SlirpDropIn", dependencies: ["PastaCore", "AdapterSupport", "CLinux"]),
        // The pesto client of pasta's control socket.
        .target(name: "Pesto", dependencies: ["PastaCore", "CLinux"]),
        // One binary: pasta, passt, pesto or slirp4netns by the name it is run as.
        .executableTarget(name: "pasta", dependencies: ["PastaCore", "Pesto", "SlirpDropIn"]),
        // Standalone (Glibc and AdapterSupport): starts, checks and stops passt processes; none of the datapath.
        .executableTarget(name: "kata-passt-endpoint", dependencies: ["AdapterSupport"]),
        .testTarget(name: "PastaCoreTests", dependencies: ["PastaCore"]),
        .testTarget(name: "SlirpDropInTests", dependencies: ["SlirpDropIn", "PastaCore", "AdapterSupport"]),
        .testTarget(name: "PestoTests", dependencies: ["Pesto", "PastaCore"]),
        .testTarget(name: "KataPasstEndpointTests", dependencies: ["kata-passt-endpoint"]),
        // The Podman OCI hook: its parsers and logic in a library the tests can reach.
        .target(name: "PodmanNetplugin", dependencies: ["PastaCore", "AdapterSupport"]),
        .executableTarget(name: "podman-netplugin", dependencies: ["PodmanNetplugin", "PastaCore"]),
        .testTarget(name: "PodmanNetpluginTests", dependencies: ["PodmanNetplugin", "PastaCore", "AdapterSupport"]),
    ]
)

// Fuzz harnesses (Fuzz/), only when scripts/fuzz.sh sets PASTA_FUZZ: they link libFuzzer, which only a
// sanitizer build provides, and plain builds and tests never compile them. PASTA_FUZZ_PLANTED_BUG builds
// the harnesses with a bounds check removed, to show the fuzzer finds it.
if Context.environment["PASTA_FUZZ"] != nil {
    let planted = Context.environment["PASTA_FUZZ_PLANTED_BUG"] != nil
    package.targets += [
        .target(name: "LibFuzzerDriver", path: "Fuzz/LibFuzzerDriver"),
        .executableTarget(name: "pasta-fuzz",
                          dependencies: ["LibFuzzerDriver", "PastaCore", "SlirpDropIn", "AdapterSupport", "PodmanNetplugin"],
                          path: "Fuzz/Harnesses",
                          swiftSettings: planted ? [.define("FUZZ_PLANTED_BUG")] : []),
    ]
}
