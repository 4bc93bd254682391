// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "pasta-swift",
    products: [
        .executable(name: "pasta", targets: ["pasta"]),
        .executable(name: "kata-passt-endpoint", targets: ["kata-passt-endpoint"]),
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
    ]
)
