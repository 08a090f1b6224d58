import FoundationEssentials
import Glibc

/// Privacy loss of a sequence of subsampled Gaussian steps, tracked as Rényi DP at a fixed set of orders
/// (composition adds RDP order by order) and converted to (ε, δ) with the conversion of Balle et al. 2020
/// ("Hypothesis testing interpretations and Rényi differential privacy", Theorem 21), minimised over the orders.
public struct RDPAccountant: PrivacyAccountant, Hashable {
    public static let kind = Accountant.rdp

    /// Opacus's default orders: 1.1, 1.2, …, 10.9 and 12, 13, …, 63.
    public static let defaultOrders: [Double] = (1...99).map { 1 + Double($0) / 10 } + (12...63).map(Double.init)

    public let orders: [Double]
    /// The composed RDP at each order.
    public private(set) var rdp: [Double]
    /// The steps composed so far, by mechanism (heterogeneous steps compose in any order).
    public private(set) var history: [Composition] = []

    public struct Composition: Sendable, Hashable {
        public let mechanism: SubsampledGaussian
        public let steps: Int

        public init(mechanism: SubsampledGaussian, steps: Int) {
            self.mechanism = mechanism
            self.steps = steps
        }

        /// The most steps one composition may hold: 2^30, beyond any training run, and within what the tight
        /// accountants' grids index.
        public static let maximumSteps = 1 << 30

        /// `steps` steps of `mechanism`, refused when `steps` is negative or past `maximumSteps`: what every
        /// accountant composes.
        init(checking mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError) {
            guard (0...Self.maximumSteps).contains(steps) else {
                throw PrivacyError(
                    .invalidParameter, "steps must be in 0...\(Self.maximumSteps) (2^30), got \(steps)")
            }
            self.init(mechanism: mechanism, steps: steps)
        }
    }

    /// The largest order an accountant takes: integer orders are summed term by term, so one of 10^4 already costs
    /// 10^4 terms per step size (Opacus's largest default is 63; dp-accounting's 256).
    public static let maximumOrder = 10_000.0

    /// An accountant with nothing spent; `orders` must all be above 1 and at most `maximumOrder`.
    public init(orders: [Double] = RDPAccountant.defaultOrders) throws(PrivacyError) {
        guard !orders.isEmpty, orders.allSatisfy({ $0 > 1 && $0 <= Self.maximumOrder }) else {
            throw PrivacyError(.invalidParameter, "RDP orders must be above 1 and at most \(Self.maximumOrder)")
        }
        self.orders = orders
        self.rdp = Array(repeating: 0, count: orders.count)
    }

    /// Composes `steps` steps of `mechanism`.
    public mutating func compose(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError) {
        let composition = try Composition(checking: mechanism, steps: steps)
        rdp = zip(rdp, orders).map { value, alpha in
            value + Double(composition.steps) * composition.mechanism.renyiDivergence(order: alpha)
        }
        history.append(composition)
    }

    /// The smallest ε over the orders for which the composition is (ε, δ)-DP.
    public func epsilon(delta: Double) throws(PrivacyError) -> Double {
        try accounted(delta: delta).epsilon
    }

    /// The smallest ε over the orders for which the composition is (ε, δ)-DP, and the order attaining it.
    public func accounted(delta: Double) throws(PrivacyError) -> AccountedEpsilon {
        try PrivacyError.checkDelta(delta)
        var best = (epsilon: Double.infinity, order: orders[0])
        for (alpha, value) in zip(orders, rdp) {
            // ε = RDP(α) + log((α − 1)/α) − (log δ + log α)/(α − 1)
            let epsilon = value + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)
            if epsilon.isFinite && epsilon < best.epsilon { best = (epsilon, alpha) }
        }
        return AccountedEpsilon(accountant: Self.kind, epsilon: max(best.epsilon, 0), order: best.order)
    }
}
