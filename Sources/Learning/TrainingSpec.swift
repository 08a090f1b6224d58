import FoundationEssentials

/// What to train and how, apart from the data: everything `cloister dp train` takes, as one value the host can
/// send into an enclave and the enclave can bind into what it signs.
public struct TrainingSpec: Sendable, Codable, Equatable {
    public var label: String
    public var model: ModelKind
    public var hiddenUnits: Int
    /// Target ε: σ is calibrated to spend at most this (tight accountant). Exactly one of `epsilon` and
    /// `noiseMultiplier` is set.
    public var epsilon: Double?
    public var noiseMultiplier: Double?
    /// With `noiseMultiplier`: the most ε the plan may spend.
    public var maxEpsilon: Double?
    public var delta: Double
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var momentum: Double
    public var clip: Double
    /// The noise multiplier of the private feature centre (`PrivateCentre`); nil trains on the features uncentred.
    public var centringNoise: Double?
    public var testFraction: Double
    /// Seeds the split and the initial weights, never the privacy noise.
    public var seed: UInt64
    /// The one-run audit to run with the training (gradient canaries); nil trains without one.
    public var audit: AuditSpec?

    public init(
        label: String, model: ModelKind = .logistic, hiddenUnits: Int = 32, epsilon: Double? = nil,
        noiseMultiplier: Double? = nil, maxEpsilon: Double? = nil, delta: Double, epochs: Int, batchSize: Int,
        learningRate: Double, momentum: Double = 0, clip: Double, centringNoise: Double? = nil,
        testFraction: Double = 0.2, seed: UInt64 = 0, audit: AuditSpec? = nil
    ) {
        self.label = label
        self.model = model
        self.hiddenUnits = hiddenUnits
        self.epsilon = epsilon
        self.noiseMultiplier = noiseMultiplier
        self.maxEpsilon = maxEpsilon
        self.delta = delta
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.clip = clip
        self.centringNoise = centringNoise
        self.testFraction = testFraction
        self.seed = seed
        self.audit = audit
    }

    /// Refuses a spec no run could satisfy, naming the parameter (the plan checks the rest against the data).
    public func validate() throws(LearningError) {
        guard (epsilon == nil) != (noiseMultiplier == nil) else {
            throw LearningError(.invalidParameter, "give exactly one of epsilon and noise multiplier")
        }
        if let epsilon, !(epsilon > 0 && epsilon.isFinite) {
            throw LearningError(.invalidParameter, "epsilon must be positive, got \(epsilon)")
        }
        if maxEpsilon != nil && noiseMultiplier == nil {
            throw LearningError(.invalidParameter, "a maximum epsilon goes with a noise multiplier (epsilon is one)")
        }
        guard testFraction > 0, testFraction < 1 else {
            throw LearningError(.invalidParameter, "test fraction must be in (0, 1), got \(testFraction)")
        }
        try audit?.validate()
    }
}

/// A DP-SGD run made ready from a dataset and a spec: the seeded split, the checked (and calibrated) plan, the seeded
/// initial model. The same preparation runs on the host and inside the enclave, so both agree on the plan.
public struct TrainingSetup: Sendable {
    public let spec: TrainingSpec
    public let train: Dataset
    public let test: Dataset
    public let plan: DPSGDPlan
    public let initialModel: Model

    /// Splits `dataset` (already mapped through its schema), makes the plan and refuses one over budget.
    public init(dataset: Dataset, spec: TrainingSpec) throws {
        try spec.validate()
        self.spec = spec
        (train, test) = dataset.split(testFraction: spec.testFraction, seed: spec.seed)
        var plan = try DPSGDPlan(
            exampleCount: train.count, batchSize: spec.batchSize, epochs: spec.epochs, learningRate: spec.learningRate,
            momentum: spec.momentum, clip: spec.clip, noiseMultiplier: spec.noiseMultiplier ?? 1, delta: spec.delta,
            centringNoise: spec.centringNoise)
        if let epsilon = spec.epsilon { plan = try plan.calibrated(toEpsilon: epsilon) }
        if let maxEpsilon = spec.maxEpsilon { try plan.checkBudget(maxEpsilon) }
        self.plan = plan
        initialModel = try Model(
            kind: spec.model, featureCount: dataset.featureCount, classCount: dataset.classCount,
            hiddenUnits: spec.hiddenUnits, seed: spec.seed)
        _ = try plan.stepMechanism(coordinates: initialModel.parameters.count)
    }

    /// Parses the CSV `csv` (named `source` in errors) within the schema when there is one (JSON, named
    /// `schemaSource`: its bounds map the features, its class count bounds the labels), and prepares the run: what the data owner's client and the enclave both do with a request.
    public init(
        csv: [UInt8], source: String, schema: [UInt8]?, schemaSource: String, spec: TrainingSpec
    ) throws {
        let dataset = try Dataset(
            csv: csv, label: spec.label, source: source,
            schema: schema.map { bytes throws(LearningError) in try FeatureSchema(json: bytes, source: schemaSource) })
        try self.init(dataset: dataset, spec: spec)
    }

    /// The names of the features, in column order.
    public var featureNames: [String] { train.featureNames }

    /// The model's accuracy on the held-out examples.
    public func accuracy(of model: Model) -> Double { model.accuracy(on: test) }
}

/// A trained model as it is published: the parameters, what the features are, the plan, and the privacy it cost.
public struct TrainedModel: Sendable, Codable, Equatable {
    public let model: Model
    public let featureNames: [String]
    public let plan: DPSGDPlan
    public let privacy: PrivacyReport

    public init(model: Model, featureNames: [String], plan: DPSGDPlan, privacy: PrivacyReport) {
        self.model = model
        self.featureNames = featureNames
        self.plan = plan
        self.privacy = privacy
    }

    /// Deterministic JSON (sorted keys).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    public init(json: [UInt8]) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(json))
    }
}
