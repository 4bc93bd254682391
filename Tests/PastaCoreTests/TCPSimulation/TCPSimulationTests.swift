import Foundation
import XCTest
@testable import PastaCore

/// The TCP engine in deterministic simulations (TCPSimulation): for each scenario, many seeds, each a
/// connection with its own sizes, options and link faults. Every byte must arrive, in order, both ways;
/// FIN and RST reach the other side exactly once; a lossless link never stalls; no segment is resent
/// more often than its losses and timeouts explain; a closed connection leaves nothing behind.
///
/// PASTA_SIM_SEEDS sets the seeds per scenario (run-tests.sh runs 10,000 in a release build; `swift test`
/// alone runs a few hundred). A failure names the scenario and seed: `PASTA_SIM_SEED=N` reruns that one.
final class TCPSimulationTests: XCTestCase {
    static var seeds: Int { ProcessInfo.processInfo.environment["PASTA_SIM_SEEDS"].flatMap(Int.init) ?? 200 }

    /// Runs `scenario(seed)` for every seed (or the one PASTA_SIM_SEED names); fails with the first few
    /// problems.
    private func sweep(_ name: String, _ scenario: (UInt64) -> TCPSimulation.Scenario) {
        let only = ProcessInfo.processInfo.environment["PASTA_SIM_SEED"].flatMap(UInt64.init)
        let seeds = only.map { [$0] } ?? (1...UInt64(Self.seeds)).map { $0 }
        var problems: [String] = []
        let started = Date()
        for seed in seeds {
            var each = scenario(seed)
            each.name = name
            problems += TCPSimulation(each, seed: seed).run()
            if problems.count >= 5 { break }
        }
        print("simulation \(name): \(seeds.count) seeds in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        XCTAssert(problems.isEmpty, problems.prefix(5).joined(separator: "\n"))
    }

    func testDownloads() { sweep("download", SimulationScenarios.download) }
    func testDownloadsIntoLentBuffers() { sweep("download-lent", SimulationScenarios.downloadIntoLentBuffers) }
    func testUploads() { sweep("upload", SimulationScenarios.upload) }
    func testExchanges() { sweep("exchange", SimulationScenarios.exchange) }
    func testHostSpeaksFirstAndCloses() { sweep("host-speaks-first", SimulationScenarios.hostSpeaksFirst) }
    func testHostResets() { sweep("host-resets", SimulationScenarios.hostResets) }
    func testGuestResets() { sweep("guest-resets", SimulationScenarios.guestResets) }
    func testGuestStopsReading() { sweep("guest-stops-reading", SimulationScenarios.guestStopsReading) }
    func testGuestPaused() { sweep("guest-paused", SimulationScenarios.guestPaused) }
}

/// The scenarios: a base from the seed (sizes, options, link faults), shaped per scenario.
enum SimulationScenarios {
    /// Sizes, options and faults drawn from the seed; half the seeds have a lossless link.
    static func base(_ seed: UInt64) -> (TCPSimulation.Scenario, SimulationRandom) {
        var random = SimulationRandom(seed: seed &* 0x2545_F491_4F6C_DD1D)
        var scenario = TCPSimulation.Scenario()
        scenario.guestConnects = random.chance(0.5)
        scenario.guest.mss = [536, 1220, 1460, 8960][random.int(0...3)]
        scenario.guest.sack = random.chance(0.7)
        scenario.guest.windowScale = random.chance(0.8) ? UInt8(random.int(0...9)) : nil
        scenario.guest.receiveBuffer = [16_384, 65_536, 262_144][random.int(0...2)]
        scenario.guest.delayedAck = random.chance(0.7)
        scenario.offload = random.chance(0.3)
        // From a generator of its own, so the draws below stay what they were for every seed.
        var lending = SimulationRandom(seed: seed ^ 0x1E4D_B0FF)
        if scenario.offload && lending.chance(0.5) { scenario.lentBufferSize = [100, 1000, 4096][lending.int(0...2)] }
        scenario.scatterGuestPayloads = lending.chance(0.3)
        scenario.hostSendBuffer = [8192, 65_536, 262_144][random.int(0...2)]
        scenario.hostShortWrites = random.chance(0.2) ? random.int(100...4000) : nil
        scenario.host.chunk = [512, 4096, 32_768][random.int(0...2)]
        scenario.host.writePause = random.int(0...3)
        scenario.host.readChunk = [1024, 16_384, 1 << 20][random.int(0...2)]
        scenario.host.readPause = random.int(0...4)
        scenario.backendCapacity = [4, 32, 256][random.int(0...2)]
        scenario.drainPerMillisecond = [1, 8, 64][random.int(0...2)]
        scenario.connectDelay = random.int(0...5)
        if random.chance(0.5) {
            scenario.toGuest = LinkFaults(loss: Double(random.int(0...50)) / 1000, duplicate: Double(random.int(0...10)) / 1000,
                                          jitter: random.int(0...3), delay: random.int(0...2))
            scenario.toEngine = LinkFaults(loss: Double(random.int(0...50)) / 1000, duplicate: Double(random.int(0...10)) / 1000,
                                           jitter: random.int(0...3), delay: random.int(0...2))
        }
        // A lossless link must never stall: its limit is far below what recovering from losses may take.
        scenario.timeLimit = scenario.lossless ? 20_000 : 300_000
        return (scenario, random)
    }

    static func download(_ seed: UInt64) -> TCPSimulation.Scenario {
        var (scenario, random) = base(seed)
        scenario.host.length = random.int(0...60_000)
        scenario.guestBytes = random.chance(0.5) ? random.int(1...200) : 0  // a request, or none
        scenario.guestClosing = random.chance(0.5) ? .whenSent : .afterPeer
        return scenario
    }

    /// Several frames per loan: downloads of up to 250 KB into buffers the backend lends.
    static func downloadIntoLentBuffers(_ seed: UInt64) -> TCPSimulation.Scenario {
        var (scenario, random) = base(seed)
        scenario.offload = true
        scenario.lentBufferSize = [100, 1000, 4096, 65_536][random.int(0...3)]
        scenario.host.length = random.int(0...250_000)
        scenario.guest.receiveBuffer = [65_536, 262_144, 1 << 20][random.int(0...2)]
        scenario.guestBytes = random.chance(0.5) ? random.int(1...200) : 0
        scenario.guestClosing = random.chance(0.5) ? .whenSent : .afterPeer
        return scenario
    }

    static func upload(_ seed: UInt64) -> TCPSimulation.Scenario {
        var (scenario, random) = base(seed)
        scenario.guestBytes = random.int(1...60_000)
        scenario.host.length = random.chance(0.5) ? random.int(1...200) : 0  // a reply, or none
        scenario.guestClosing = .whenSent
        return scenario
    }

    static func exchange(_ seed: UInt64) -> TCPSimulation.Scenario {
        var (scenario, random) = base(seed)
        scenario.guestBytes = random.int(1...40_000)
        scenario.host.length = random.int(1...40_000)
        scenario.guestClosing = random.chance(0.5) ? .whenSent : .afterPeer
        return scenario
    }

    /// The host writes a little and closes at once: data and FIN in one wake-up, often before our
    /// handshake with the guest is done.
    static func hostSpeaksFirst(_ seed: UInt64) -> TCPSimulation.Scenario {
        var (scenario, random) = base(seed)
        scenario.host.length = random.int(0...3000)
        scenario.host.chunk = 1 << 20
        scenario.host.speaksFirst = true
        scenario.guestBytes = 0
        scenario.guestClosing = .afterPeer
        return scenario
    }

    static func hostResets(_ seed: UInt64) -> TCPSimulation.Scenario {
        var scenario = download(seed)
        var random = SimulationRandom(seed: seed ^ 0xABCD)
        scenario.host.length = max(scenario.host.length, 1)
        scenario.host.ending = .reset(after: random.int(0...scenario.host.length))
        return scenario
    }

    static func guestResets(_ seed: UInt64) -> TCPSimulation.Scenario {
        var scenario = download(seed)
        var random = SimulationRandom(seed: seed ^ 0xBEEF)
        scenario.host.length = max(scenario.host.length, 2000)
        scenario.guestAbortsAfter = random.int(1...scenario.host.length - 1)
        return scenario
    }

    static func guestStopsReading(_ seed: UInt64) -> TCPSimulation.Scenario {
        var scenario = download(seed)
        var random = SimulationRandom(seed: seed ^ 0xF00D)
        scenario.host.length = max(scenario.host.length, 20_000)
        let stop = (at: random.int(0...50), for: random.int(100...3000))
        scenario.guestStopsReading = stop
        scenario.timeLimit += stop.for
        return scenario
    }

    static func guestPaused(_ seed: UInt64) -> TCPSimulation.Scenario {
        var scenario = download(seed)
        var random = SimulationRandom(seed: seed ^ 0xCAFE)
        scenario.host.length = max(scenario.host.length, 20_000)
        let pause = (at: random.int(0...30), for: random.int(200...4000))
        scenario.guestPaused = pause
        scenario.timeLimit += pause.for
        return scenario
    }
}
