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
