import ArgumentParser

/// The options of one friendly spelling as argument-parser types, made at run time
/// (``OptionChains/chain(for:)``): chunks of 8, 4, 2 or 1 options, each holding the rest
/// of the chain in an `@OptionGroup`, ending in ``NoMoreOptions``.
///
/// Why chunks: a debug build of argument-parser validates a nested option group again for
/// every check of its parent, so the cost grows exponentially with the depth of nesting;
/// chunks keep a command with up to 30 options within four levels.
protocol OptionChain: ParsableArguments {
    /// How many options the chain holds.
    static var length: Int { get }
    /// The options given, as (argument name, value), in the order of the catalog.
    var given: [(argument: String, value: String)] { get }
}

struct NoMoreOptions: OptionChain {
    static var length: Int { 0 }
    var given: [(argument: String, value: String)] { [] }
}

/// `size` consecutive options of the spelling with index `Spelling`, then `Rest`.
protocol OptionChunk: OptionChain {
    associatedtype Spelling: TypeIndex
    associatedtype Rest: OptionChain
    static var size: Int { get }
    var rest: Rest { get }
    /// The values of this chunk's options, in order.
    var values: [String?] { get }
}

extension OptionChunk {
    static var length: Int { size + Rest.length }

    /// The chunk's option number `offset`.
    static func option(_ offset: Int) -> FriendlyOption {
        let options = FriendlyCommands.spellings[Spelling.value].options
        return options[options.count - length + offset]
    }

    static func name(_ offset: Int) -> NameSpecification { .customLong(option(offset).name) }

    static func help(_ offset: Int) -> ArgumentHelp {
        let argument = option(offset).argument
        return ArgumentHelp(argument.summary + (argument.required ? " (required)" : ""), valueName: argument.name)
    }

    var given: [(argument: String, value: String)] {
        values.enumerated().compactMap { offset, value in value.map { (Self.option(offset).argument.name, $0) } }
            + rest.given
    }
}

struct OptionChunk1<Spelling: TypeIndex, Rest: OptionChain>: OptionChunk {
    static var size: Int { 1 }
    @Option(name: name(0), help: help(0)) var option0: String?
    @OptionGroup var rest: Rest
    var values: [String?] { [option0] }
}

struct OptionChunk2<Spelling: TypeIndex, Rest: OptionChain>: OptionChunk {
    static var size: Int { 2 }
    @Option(name: name(0), help: help(0)) var option0: String?
    @Option(name: name(1), help: help(1)) var option1: String?
    @OptionGroup var rest: Rest
    var values: [String?] { [option0, option1] }
}

struct OptionChunk4<Spelling: TypeIndex, Rest: OptionChain>: OptionChunk {
    static var size: Int { 4 }
    @Option(name: name(0), help: help(0)) var option0: String?
    @Option(name: name(1), help: help(1)) var option1: String?
    @Option(name: name(2), help: help(2)) var option2: String?
    @Option(name: name(3), help: help(3)) var option3: String?
    @OptionGroup var rest: Rest
    var values: [String?] { [option0, option1, option2, option3] }
}

struct OptionChunk8<Spelling: TypeIndex, Rest: OptionChain>: OptionChunk {
    static var size: Int { 8 }
    @Option(name: name(0), help: help(0)) var option0: String?
    @Option(name: name(1), help: help(1)) var option1: String?
    @Option(name: name(2), help: help(2)) var option2: String?
    @Option(name: name(3), help: help(3)) var option3: String?
    @Option(name: name(4), help: help(4)) var option4: String?
    @Option(name: name(5), help: help(5)) var option5: String?
    @Option(name: name(6), help: help(6)) var option6: String?
    @Option(name: name(7), help: help(7)) var option7: String?
    @OptionGroup var rest: Rest
    var values: [String?] { [option0, option1, option2, option3, option4, option5, option6, option7] }
}

enum OptionChains {
    /// The option chain of the spelling whose index type is `spelling`: the largest chunks
    /// first, from the last option back.
    static func chain(for spelling: any TypeIndex.Type) -> any OptionChain.Type {
        var chain: any OptionChain.Type = NoMoreOptions.self
        var left = FriendlyCommands.spellings[spelling.value].options.count
        while left > 0 {
            let size = [8, 4, 2, 1].first { $0 <= left } ?? 1
            chain = chunk(size, spelling, before: chain)
            left -= size
        }
        return chain
    }

    private static func chunk<Spelling: TypeIndex, Rest: OptionChain>(
        _ size: Int, _: Spelling.Type, before _: Rest.Type
    ) -> any OptionChain.Type {
        switch size {
        case 8: OptionChunk8<Spelling, Rest>.self
        case 4: OptionChunk4<Spelling, Rest>.self
        case 2: OptionChunk2<Spelling, Rest>.self
        default: OptionChunk1<Spelling, Rest>.self
        }
    }
}
