//! Which state changes a job may make: one pure table every backend checks before it writes.

use crate::job::JobState;

/// Whether a job may go from `from` to `to`.
///
/// | from | to | why |
/// |---|---|---|
/// | queued | running | a worker claims it |
/// | queued | cancelled | an operator cancels it before any worker took it |
/// | running | running | a worker takes over a job whose lease ran out (attempt + 1) |
/// | running | queued | a retryable failure before the point of no return, or a release at shutdown |
/// | running | sent | the service returned a receipt |
/// | running | failed | a permanent failure, or attempts exhausted |
/// | running | in_doubt | the send may have reached the service |
/// | failed | queued | an operator retries it |
/// | in_doubt | sent | an operator says it was delivered |
/// | in_doubt | queued | an operator says it was not: send again |
///
/// Everything else is refused: `sent` and `cancelled` are final, and a running job cannot be
/// cancelled (its worker may be past the point of no return).
pub fn allowed(from: JobState, to: JobState) -> bool {
    use JobState::*;
    matches!(
        (from, to),
        (Queued, Running)
            | (Queued, Cancelled)
            | (Running, Running)
            | (Running, Queued)
            | (Running, Sent)
            | (Running, Failed)
            | (Running, InDoubt)
            | (Failed, Queued)
            | (InDoubt, Sent)
            | (InDoubt, Queued)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobState::*;

    /// Every one of the 36 pairs, written out so a change to the table is a change here too.
    #[test]
    fn every_pair() {
        let table: [(JobState, [bool; 6]); 6] = [
            //           queued running sent  failed in_doubt cancelled
            (Queued, [false, true, false, false, false, true]),
            (Running, [true, true, true, true, true, false]),
            (Sent, [false, false, false, false, false, false]),
            (Failed, [true, false, false, false, false, false]),
            (InDoubt, [true, false, true, false, false, false]),
            (Cancelled, [false, false, false, false, false, false]),
        ];
        let mut checked = 0;
        for (from, row) in table {
            for (to, expected) in JobState::ALL.into_iter().zip(row) {
                assert_eq!(allowed(from, to), expected, "{from} -> {to}");
                checked += 1;
            }
        }
        assert_eq!(checked, 36);
    }

    #[test]
    fn final_states_go_nowhere() {
        for to in JobState::ALL {
            assert!(!allowed(Sent, to));
            assert!(!allowed(Cancelled, to));
        }
    }
}
