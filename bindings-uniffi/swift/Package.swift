// swift-tools-version:5.9
// fivelens for Swift: `make uniffi` puts this manifest beside the sources uniffi-bindgen generates
// (target/uniffi/swift/Fivelens). Build the library first (`cargo build --release -p
// fivelens-uniffi`, for each target platform) and pass its folder to the linker:
//   swift build -Xlinker -L/path/to/target/release
import PackageDescription

let package = Package(
    name: "Fivelens",
    products: [
        .library(name: "Fivelens", targets: ["Fivelens"]),
    ],
    targets: [
        // The C declarations of the library's exported functions (FivelensFFI.h) and the link to
        // libfivelens_uniffi.
        .systemLibrary(name: "FivelensFFI", path: "Sources/FivelensFFI"),
        // The generated Swift API: instrument, startSpan, startLlmCall, flush, shutdown...
        .target(name: "Fivelens", dependencies: ["FivelensFFI"], path: "Sources/Fivelens"),
    ]
)
