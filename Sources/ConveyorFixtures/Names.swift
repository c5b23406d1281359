/// Realistic-looking names for a rail freight forwarder between China and
/// Europe: people by region, and client companies from the cities the trains
/// run between, with their country's legal form.
enum Names {
    struct Region {
        let givenNames: [String]
        let familyNames: [String]
        /// Chinese names put the family name first.
        let familyFirst: Bool
        let cities: [String]
        let legalForm: String

        func person(_ random: inout Random) -> String {
            let given = random.element(givenNames), family = random.element(familyNames)
            return familyFirst ? "\(family) \(given)" : "\(given) \(family)"
        }
    }

    static let china = Region(
        givenNames: ["Wei", "Lei", "Fang", "Jing", "Min", "Yong", "Xiu Ying", "Hao", "Li Na", "Jun", "Yan", "Tao", "Qiang", "Mei", "Bo"],
        familyNames: ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu"],
        familyFirst: true,
        cities: ["Chongqing", "Chengdu", "Xi'an", "Yiwu", "Zhengzhou", "Wuhan", "Suzhou", "Hefei", "Shenzhen", "Changsha"],
        legalForm: "Co., Ltd."
    )
    static let poland = Region(
        givenNames: ["Anna", "Piotr", "Katarzyna", "Tomasz", "Agnieszka", "Marcin", "Magdalena", "Paweł", "Joanna", "Michał"],
        familyNames: ["Nowak", "Kowalczyk", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Dąbrowski", "Kozłowski"],
        familyFirst: false,
        cities: ["Łódź", "Małaszewicze", "Warszawa", "Poznań", "Gdańsk", "Wrocław", "Kraków"],
        legalForm: "Sp. z o.o."
    )
    static let germany = Region(
        givenNames: ["Jürgen", "Sabine", "Thomas", "Katrin", "Stefan", "Julia", "Andreas", "Claudia", "Michael", "Ute"],
        familyNames: ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer"],
        familyFirst: false,
        cities: ["Duisburg", "Hamburg", "Nürnberg", "Leipzig", "Köln", "Stuttgart", "München"],
        legalForm: "GmbH"
    )
    static let others = [
        Region(givenNames: ["Marco", "Giulia", "Luca", "Francesca", "Matteo"], familyNames: ["Rossi", "Bianchi", "Romano", "Colombo", "Ricci"],
               familyFirst: false, cities: ["Milano", "Torino", "Verona"], legalForm: "S.r.l."),
        Region(givenNames: ["Jan", "Eva", "Pieter", "Sanne", "Daan"], familyNames: ["de Jong", "Jansen", "Visser", "van Dijk", "Bakker"],
               familyFirst: false, cities: ["Rotterdam", "Tilburg", "Venlo"], legalForm: "B.V."),
        Region(givenNames: ["Aidos", "Aigerim", "Nurlan", "Dana", "Yerlan"], familyNames: ["Nurlanov", "Abenova", "Serikbayev", "Omarova", "Zhakupov"],
               familyFirst: false, cities: ["Almaty", "Dostyk", "Khorgos"], legalForm: "LLP"),
        Region(givenNames: ["Petr", "Lucie", "Jakub", "Tereza", "Martin"], familyNames: ["Novák", "Svobodová", "Dvořák", "Černá", "Procházka"],
               familyFirst: false, cities: ["Praha", "Brno", "Ostrava"], legalForm: "s.r.o."),
    ]
    static let clientRegions = [china, china, poland, germany] + others

    static let trades = [
        "Electronics", "Auto Parts", "Textiles", "Furniture", "Machinery", "Solar", "Home Goods", "Toys", "Bicycles",
        "Ceramics", "Lighting", "Chemicals", "Steel", "Paper", "Footwear", "Tools", "Medical Supplies", "Packaging",
    ]
    static let companyWords = ["Trading", "Import", "Export", "Industrial", "Logistics", "Manufacturing", "Supply", "Group"]

    /// The region whose people work in a team of this time zone.
    static func staffRegion(timeZone: String) -> Region {
        switch timeZone {
        case "Asia/Shanghai", "Asia/Chongqing", "Asia/Urumqi", "Asia/Hong_Kong": china
        case "Europe/Warsaw": poland
        case "Europe/Berlin", "Europe/Vienna", "Europe/Zurich": germany
        default: others[0]
        }
    }

    /// A client company and the region its people come from.
    static func company(_ random: inout Random) -> (name: String, region: Region) {
        let region = random.element(clientRegions)
        let name = "\(random.element(region.cities)) \(random.element(trades)) \(random.element(companyWords)) \(region.legalForm)"
        return (name, region)
    }
}
