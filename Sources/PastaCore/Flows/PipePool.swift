import Glibc

/// A pipe that carries one direction of a spliced connection.
struct SplicePipe {
    let read: Int32
    let write: Int32
    let capacity: Int

    func close() {
        Glibc.close(read)
        Glibc.close(write)
    }
}

/// Pipes kept for reuse: a connection takes two, and returns them empty when it ends. The pool is filled
/// once at start, so a burst of connections leaves no more descriptors open than before it.
final class PipePool {
    /// 256 KiB: 1 MiB measured no faster here (within noise, alternating runs), and an unprivileged user's
    /// pipes share a quota (fs.pipe-user-pages-soft, 64 MiB) beyond which new pipes shrink to two pages.
    static let pipeSize: Int32 = 1 << 18
    private var pipes: [SplicePipe] = []
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        while pipes.count < capacity, let pipe = Self.make() { pipes.append(pipe) }
    }

    func take() -> SplicePipe? { pipes.popLast() ?? Self.make() }

    /// Keeps an empty pipe while there is room. A pipe still holding data can't be reused: a new one takes
    /// its place, so an idle worker always holds the same number of descriptors.
    func give(_ pipe: SplicePipe, empty: Bool) {
        guard pipes.count < capacity else { return pipe.close() }
        if empty {
            pipes.append(pipe)
        } else {
            pipe.close()
            if let fresh = Self.make() { pipes.append(fresh) }
        }
    }

    private static func make() -> SplicePipe? {
        guard let pipe = SocketCalls.pipe(size: Int(pipeSize)), pipe.capacity > 0 else { return nil }
        return SplicePipe(read: pipe.read, write: pipe.write, capacity: pipe.capacity)
    }
}
