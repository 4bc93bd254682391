// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "pasta-swift",
    products: [
        .executable(name: "pasta", targets: ["pasta"]),
        .library(name: "PastaCore", targets: ["PastaCore"]),
    ],
    targets: [
        .target(name: "CLinux"),
        .target(name: "PastaCore", dependencies: ["CLinux"]),
        .executableTarget(name: "pasta", dependencies: ["PastaCore"]),
        .testTarget(name: "PastaCoreTests", dependencies: ["PastaCore"]),
    ]
)
