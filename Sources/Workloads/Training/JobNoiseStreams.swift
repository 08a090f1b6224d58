import CloisterCrypto
import Learning

/// The noise streams of a `dpsgd` job's step t (`StepNoise`): keyed streams under the job's key, numbered apart from
/// the steps' own (stream t) and the canaries' membership (stream 2⁶⁴ − 1), as 2⁶³ + t·2²⁰ + c. A step restarted from
/// a checkpoint draws the same noise.
struct JobNoiseStreams: RandomStreams {
    let key: AESCTRKey
    let step: Int

    func stream(_ index: Int) -> KeyedRandomStream {
        precondition(
            index < 1 << 20 && step < 1 << 42,
            "a job's noise streams are 2^63 + t·2^20 + c, with c below 2^20 and t below 2^42")
        return KeyedRandomStream(key: key, stream: 1 << 63 | UInt64(step) << 20 | UInt64(index))
    }
}
