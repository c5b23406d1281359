/// A natural number carried by a type: `IndexZero`, `IndexSuccessor<IndexZero>`, …
///
/// swift-argument-parser describes a command by its type (subcommands are a list of
/// `ParsableCommand.Type`, options are the property wrappers of a type). The friendly
/// commands come from ``CommandCatalog`` at run time, so each needs a type made at run
/// time: a generic command specialised with its own index type (see ``CatalogCommand``).
protocol TypeIndex {
    static var value: Int { get }
}

enum IndexZero: TypeIndex {
    static var value: Int { 0 }
}

enum IndexSuccessor<Predecessor: TypeIndex>: TypeIndex {
    static var value: Int { Predecessor.value + 1 }
}

enum TypeIndices {
    /// The index types of 0 up to `count - 1`, in order.
    static func first(_ count: Int) -> [any TypeIndex.Type] {
        var indices: [any TypeIndex.Type] = []
        var next: any TypeIndex.Type = IndexZero.self
        for _ in 0..<count {
            indices.append(next)
            next = successor(of: next)
        }
        return indices
    }

    private static func successor<Index: TypeIndex>(of _: Index.Type) -> any TypeIndex.Type {
        IndexSuccessor<Index>.self
    }
}
