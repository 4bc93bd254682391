/// Reads a client's new tables as its bytes arrive, in whatever pieces: each unit (a pif byte, a count, a
/// rule) is decoded once, when it is complete, so a client trickling bytes costs no more than one sending
/// them at once. Anything malformed ends it: the update is then rejected whole.
struct PestoUpdateReader {
    enum State: Equatable {
        /// More bytes are needed.
        case reading
        /// The terminating pif 0 arrived: these are the new tables.
        case complete([ForwardingTable])
        case malformed(String)
    }

    private(set) var state = State.reading
    private var pending: [UInt8] = []
    private var tables: [ForwardingTable] = []
    /// Rules still to read for the last table; nil when a pif byte comes next.
    private var remaining: Int?
    private var awaitingCount = false
    /// Bytes taken so far, for messages.
    private(set) var offset = 0

    /// Takes the next bytes; returns the state after them. Bytes after the terminator make it malformed.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> State {
        guard !bytes.isEmpty else { return state }
        switch state {
        case .reading: break
        case .complete: state = .malformed("bytes after the end of the update"); return state
        case .malformed: return state
        }
        pending += bytes
        var start = 0
        while state == .reading {
            let needed = awaitingCount ? 4 : (remaining.map { $0 > 0 ? PestoProtocol.ruleSize : 0 } ?? 1)
            if needed == 0 {  // the last table's rules are all read
                remaining = nil
                continue
            }
            guard pending.count - start >= needed else { break }
            take(pending[start..<(start + needed)])
            start += needed
            offset += needed
        }
        pending.removeFirst(start)
        if case .complete = state, !pending.isEmpty { state = .malformed("bytes after the end of the update") }
        return state
    }

    /// The client closed: an update cut short is malformed; one never begun is no update at all.
    mutating func finish() -> State {
        if state == .reading {
            state = offset == 0 && pending.isEmpty ? .complete([]) : .malformed("the update ends after \(offset + pending.count) bytes")
        }
        return state
    }

    private mutating func take(_ unit: ArraySlice<UInt8>) {
        if awaitingCount {
            let count = PestoProtocol.u32(unit, at: 0)
            guard count <= PestoProtocol.maximumRulesPerUpdate else {
                return state = .malformed("\(count) rules for one table (at most \(PestoProtocol.maximumRulesPerUpdate))")
            }
            awaitingCount = false
            remaining = Int(count)
            return
        }
        if let left = remaining {
            switch PestoProtocol.decodeRule(unit) {
            case .success(let rule):
                tables[tables.count - 1].rules.append(rule)
                remaining = left - 1
            case .failure(let error):
                state = .malformed("rule \(tables[tables.count - 1].rules.count + 1) of \(tables[tables.count - 1].pif.name): \(error)")
            }
            return
        }
        let value = unit[unit.startIndex]
        if value == 0 { return state = .complete(tables) }
        guard let pif = ForwardingPif(rawValue: value) else { return state = .malformed("unknown pif \(value)") }
        guard !tables.contains(where: { $0.pif == pif }) else { return state = .malformed("\(pif.name) given twice") }
        tables.append(ForwardingTable(pif))
        awaitingCount = true
    }
}
