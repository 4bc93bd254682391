import Glibc

/// Guest-physical addresses as the rings and their buffers name them, for the virtqueue walker: the real
/// memory table, or an image a test or fuzz harness builds.
protocol GuestAddressSpace: AnyObject {
    /// The `count` bytes at guest-physical `address`, or nil unless all of them lie inside one region
    /// (no overflow, `count` >= 0).
    func pointer(guestPhysical address: UInt64, count: Int) -> UnsafeMutableRawPointer?
}

/// SET_MEM_TABLE's regions, each mapped (shared, read and write) from the descriptor that came with it.
/// Refused: more than `maximumRegions`, an empty region, sizes or ends that overflow 64 bits, regions that
/// overlap in guest-physical or in frontend addresses, more than `maximumTotalSize` in all, a mapping
/// that fails. The descriptors are closed once mapped (or refused): a mapping outlives its descriptor.
final class GuestMemory: GuestAddressSpace {
    static let maximumRegions = 8
    /// 1 TiB: what a VM of ours could have; more is a hostile table.
    static let maximumTotalSize: UInt64 = 1 << 40

    private struct Region {
        var guestPhysical: UInt64
        var frontendAddress: UInt64
        var size: UInt64
        /// Where guest-physical `guestPhysical` is in our address space.
        var base: UnsafeMutableRawPointer
        /// The whole mapping (it starts `mmapOffset` bytes before `base`), for munmap.
        var mapping: UnsafeMutableRawPointer
        var mappingLength: Int
    }

    /// A fixed, small table: a linear scan beats anything cleverer at 8 entries.
    private let regions: UnsafeMutableBufferPointer<Region>
    /// The region the last guest-physical lookup hit: buffers of one ring mostly share a region.
    private var lastHit = 0

    init(regions descriptions: [MemoryRegionDescription]) throws(VhostUserRefusal) {
        defer { Self.closeDescriptors(of: descriptions) }
        try Self.validate(descriptions)
        let regions = UnsafeMutableBufferPointer<Region>.allocate(capacity: descriptions.count)
        for (index, description) in descriptions.enumerated() {
            // validate() checked that mmapOffset + size fits an Int.
            let length = Int(description.mmapOffset + description.size)
            // Pages past the file's end can't be touched (SIGBUS): the region must lie within the file.
            var status = stat()
            guard fstat(description.descriptor, &status) == 0, status.st_mode & S_IFMT != S_IFREG || length <= Int(status.st_size) else {
                for mapped in regions[..<index] { Self.unmap(mapped) }
                regions.deallocate()
                throw VhostUserRefusal("memory region \(index): \(length) bytes from its file's start, past the file's end")
            }
            let mapping = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, description.descriptor, 0)
            guard let mapping, mapping != MAP_FAILED else {
                let error = errno
                for mapped in regions[..<index] { Self.unmap(mapped) }
                regions.deallocate()
                throw VhostUserRefusal("memory region \(index): mmap of \(length) bytes failed: \(String(cString: strerror(error)))")
            }
            // A frontend may still shrink the file later: touching what it cut off must not kill us.
            if !SharedMemoryGuard.guardRange(mapping, length: length) {
                logWarning("vhost-user: memory region \(index) is not guarded against the frontend shrinking it")
            }
            (regions.baseAddress! + index).initialize(to: Region(
                guestPhysical: description.guestPhysical, frontendAddress: description.frontendAddress,
                size: description.size, base: mapping + Int(description.mmapOffset),
                mapping: mapping, mappingLength: length))
        }
        self.regions = regions
    }

    deinit {
        for region in regions { Self.unmap(region) }
        regions.deallocate()
    }

    private static func unmap(_ region: Region) {
        SharedMemoryGuard.unguard(region.mapping)
        munmap(region.mapping, region.mappingLength)
    }

    func pointer(guestPhysical address: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        guard count >= 0 else { return nil }
        let length = UInt64(count)
        let cached = regions[lastHit]
        if let offset = Self.offset(of: address, length, start: cached.guestPhysical, size: cached.size) {
            return cached.base + Int(offset)
        }
        for index in regions.indices {
            let region = regions[index]
            if let offset = Self.offset(of: address, length, start: region.guestPhysical, size: region.size) {
                lastHit = index
                return region.base + Int(offset)
            }
        }
        return nil
    }

    /// The same for the frontend's (qemu's) virtual addresses, as SET_VRING_ADDR gives them.
    func pointer(frontendAddress address: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        guard count >= 0 else { return nil }
        for region in regions {
            if let offset = Self.offset(of: address, UInt64(count), start: region.frontendAddress, size: region.size) {
                return region.base + Int(offset)
            }
        }
        return nil
    }

    /// `address`'s offset into [start, start + size) when `length` bytes from it fit there too. Written
    /// without sums that could overflow: `address` and `length` are the driver's.
    @inline(__always)
    private static func offset(of address: UInt64, _ length: UInt64, start: UInt64, size: UInt64) -> UInt64? {
        guard address >= start else { return nil }
        let offset = address - start
        guard offset < size, length <= size - offset else { return nil }
        return offset
    }

    private static func validate(_ descriptions: [MemoryRegionDescription]) throws(VhostUserRefusal) {
        guard (1...maximumRegions).contains(descriptions.count) else {
            throw VhostUserRefusal("memory table of \(descriptions.count) regions (1 to \(maximumRegions) allowed)")
        }
        var total: UInt64 = 0
        for (index, region) in descriptions.enumerated() {
            guard region.size > 0 else { throw VhostUserRefusal("memory region \(index) is empty") }
            guard region.descriptor >= 0 else { throw VhostUserRefusal("memory region \(index) has no descriptor") }
            let (_, physicalOverflow) = region.guestPhysical.addingReportingOverflow(region.size)
            let (_, frontendOverflow) = region.frontendAddress.addingReportingOverflow(region.size)
            let (mappingLength, mappingOverflow) = region.mmapOffset.addingReportingOverflow(region.size)
            guard !physicalOverflow, !frontendOverflow, !mappingOverflow, mappingLength <= UInt64(Int.max) else {
                throw VhostUserRefusal("memory region \(index): addresses or mmap offset overflow 64 bits")
            }
            total += min(region.size, maximumTotalSize + 1)
            guard total <= maximumTotalSize else {
                throw VhostUserRefusal("memory table larger than \(maximumTotalSize >> 30) GiB")
            }
        }
        for second in descriptions.indices {
            for first in descriptions.indices where first < second {
                let (a, b) = (descriptions[first], descriptions[second])
                if overlap(a.guestPhysical, a.size, b.guestPhysical, b.size) {
                    throw VhostUserRefusal("memory regions \(first) and \(second) overlap in guest-physical addresses")
                }
                if overlap(a.frontendAddress, a.size, b.frontendAddress, b.size) {
                    throw VhostUserRefusal("memory regions \(first) and \(second) overlap in frontend addresses")
                }
            }
        }
    }

    /// Whether two ranges, whose ends don't overflow, share a byte.
    private static func overlap(_ start: UInt64, _ size: UInt64, _ otherStart: UInt64, _ otherSize: UInt64) -> Bool {
        start < otherStart + otherSize && otherStart < start + size
    }

    /// Each descriptor once: the same number twice in a table must not close someone else's later.
    private static func closeDescriptors(of descriptions: [MemoryRegionDescription]) {
        var closed: [Int32] = []
        for description in descriptions where description.descriptor >= 0 && !closed.contains(description.descriptor) {
            close(description.descriptor)
            closed.append(description.descriptor)
        }
    }
}
