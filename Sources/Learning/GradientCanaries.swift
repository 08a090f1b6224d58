public import Privacy

/// White-box gradient canaries for the one-run audit (Steinke, Nasr, Jagielski 2023; `OneRunAudit`): m extra records
/// of the training set, each a member with probability ½ (a secret of the auditor), whose gradient is on a coordinate
/// of its own after the model's ("Dirac" canaries that neither touch the model nor each other) and moves it by the
/// step's whole L2 sensitivity: C plus the ⌈√d⌉ grid steps the rounding of the model's sum pays for.
/// `DPSGD.step(on:random:canaries:)` samples the members like every example and releases their coordinates with the
/// step's noise, by the same loop as the model's; a canary's score is the sum of its released coordinate over the
/// steps, divided by C. Each canary then has exactly the privacy the accountant computes for the plan's steps, so a
/// guesser that names members from the scores more often than that ε allows shows the trainer spends more than it
/// claims (a wrong sampling rate, noise, clip, step count or accountant). It does not test the clipping of real
/// examples' gradients.
public struct GradientCanaries: Sendable, Equatable {
    /// Whether each canary is a member of the training set.
    public let included: [Bool]
    /// The indices of the members.
    let members: [Int]
    /// Each canary's released coordinate summed over the steps, divided by C.
    public private(set) var scores: [Double]

    public var count: Int { included.count }

    /// `count` canaries, each a member with probability ½ by `random` (a secret source: the guesser must not know it).
    public init(count: Int, random: inout some RandomNumberGenerator) throws(LearningError) {
        guard count >= 1, count <= Self.maximumCount else {
            throw LearningError(
                .invalidParameter, "an audit takes 1 to \(Self.maximumCount) canaries, got \(count)")
        }
        let included = (0..<count).map { _ in Bool.random(using: &random) }
        self.included = included
        members = included.indices.filter { included[$0] }
        scores = Array(repeating: 0, count: count)
    }

    /// The most canaries an audit takes: each costs a noise draw per step.
    public static let maximumCount = 100_000

    mutating func record(_ released: Double, at index: Int) {
        scores[index] += released
    }

    /// The audit's report at `delta` and `confidence`: what the guesser found and the most it could have found.
    public func report(delta: Double, confidence: Double) throws(PrivacyError) -> AuditReport {
        let found = try finding(delta: delta, confidence: confidence)
        return AuditReport(
            canaries: count, confidence: confidence, guesses: found.guesses, correct: found.correct,
            epsilonLower: found.epsilonLowerBound,
            epsilonLowerMax: try Self.ceiling(count: count, delta: delta, confidence: confidence))
    }

    /// What the guesser found: the number of guesses it made, how many were right, and the lower bound on ε.
    public struct Finding: Sendable, Equatable {
        public let guesses: Int
        public let correct: Int
        public let epsilonLowerBound: Double
    }

    /// The guesses and the lower bound at `confidence`: for each k of a grid fixed in advance (1 %, 2 %, 5 %, 10 %,
    /// 20 % and 40 % of the canaries), the k highest scores guessed members and the k lowest not, each k's bound taken
    /// at the confidence split evenly over the grid (Bonferroni); the largest bound, with its guesses.
    public func finding(delta: Double, confidence: Double) throws(PrivacyError) -> Finding {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        return try Self.best(count: count, delta: delta, confidence: confidence) { k in
            order.prefix(k).count { included[$0] } + order.suffix(k).count { !included[$0] }
        }
    }

    /// The largest bound `count` canaries can show at `delta` and `confidence`: every guess of the grid right. A claim
    /// at or above it cannot be refuted by this audit, however the trainer errs (δ's term 2mδ grows with the
    /// canaries, so past about 1/(2δ) more canaries lower it).
    public static func ceiling(count: Int, delta: Double, confidence: Double) throws(PrivacyError) -> Double {
        try best(count: count, delta: delta, confidence: confidence) { 2 * $0 }.epsilonLowerBound
    }

    /// Over the grid, with `correct(k)` right of the 2k guesses at k: the largest bound, each k's taken at the
    /// confidence split evenly over the grid (Bonferroni); no guesses and a bound of 0 when the grid is empty.
    private static func best(
        count: Int, delta: Double, confidence: Double, correct: (Int) -> Int
    ) throws(PrivacyError) -> Finding {
        let grid = grid(count)
        let level = 1 - (1 - confidence) / Double(max(grid.count, 1))
        var best = Finding(guesses: 0, correct: 0, epsilonLowerBound: 0)
        for k in grid {
            let right = correct(k)
            let bound = try OneRunAudit.epsilonLowerBound(
                canaries: count, guesses: 2 * k, correct: right, delta: delta, confidence: level)
            if bound > best.epsilonLowerBound || best.guesses == 0 {
                best = Finding(guesses: 2 * k, correct: right, epsilonLowerBound: bound)
            }
        }
        return best
    }

    /// The numbers k of guesses each way, fixed before any score is seen: 1, 2, 5, 10, 20 and 40 % of the canaries.
    private static func grid(_ count: Int) -> [Int] {
        Array(Set([100, 50, 20, 10, 5].map { max(1, count / $0) } + [max(1, 2 * count / 5)]))
            .filter { 2 * $0 <= count }.sorted()
    }
}

extension GradientCanaries: Codable {
    private enum CodingKeys: String, CodingKey { case included, scores }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(included, forKey: .included)
        try container.encode(scores, forKey: .scores)
    }

    /// Decodes canaries (a sealed checkpoint's), refusing a count outside 1...`maximumCount` or scores that do not
    /// match the canaries one for one.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let included = try container.decode([Bool].self, forKey: .included)
        let scores = try container.decode([Double].self, forKey: .scores)
        guard (1...Self.maximumCount).contains(included.count), scores.count == included.count else {
            throw DecodingError.dataCorruptedError(
                forKey: .scores, in: container,
                debugDescription: "\(included.count) canaries with \(scores.count) scores")
        }
        self.included = included
        members = included.indices.filter { included[$0] }
        self.scores = scores
    }
}

/// An audit to run with a training job (`cloister dp audit`): how many gradient canaries, and the confidence of the
/// lower bound.
public struct AuditSpec: Sendable, Codable, Equatable {
    public let canaries: Int
    public let confidence: Double

    public init(canaries: Int, confidence: Double) {
        self.canaries = canaries
        self.confidence = confidence
    }

    /// Refuses a count outside 1...`GradientCanaries.maximumCount` or a confidence outside (0, 1), naming it.
    public func validate() throws(LearningError) {
        guard (1...GradientCanaries.maximumCount).contains(canaries) else {
            throw LearningError(
                .invalidParameter, "an audit takes 1 to \(GradientCanaries.maximumCount) canaries, got \(canaries)")
        }
        guard confidence > 0, confidence < 1 else {
            throw LearningError(.invalidParameter, "an audit's confidence must be in (0, 1), got \(confidence)")
        }
    }
}

/// What a one-run audit found: the canaries and confidence, the guesses made and how many were right, the lower
/// bound on ε they give, and the most any guesses could give (`GradientCanaries.ceiling`). Inside the enclave it is
/// part of the signed training result.
public struct AuditReport: Sendable, Codable, Equatable {
    public let canaries: Int
    public let confidence: Double
    public let guesses: Int
    public let correct: Int
    public let epsilonLower: Double
    public let epsilonLowerMax: Double

    public init(
        canaries: Int, confidence: Double, guesses: Int, correct: Int, epsilonLower: Double, epsilonLowerMax: Double
    ) {
        self.canaries = canaries
        self.confidence = confidence
        self.guesses = guesses
        self.correct = correct
        self.epsilonLower = epsilonLower
        self.epsilonLowerMax = epsilonLowerMax
    }
}
