# Sourced by the bench scripts: throughput ratios against `openssl speed`, measured in alternating rounds on one
# core. Other tenants of a VM move both sides by ±10 % within seconds; alternating the reference and our probe
# round by round, and reporting the round with the median ratio, keeps one slow second from deciding a ratio.
#
# rounds_run ROUNDS SECONDS COMMAND...   runs, ROUNDS times, `openssl speed` then COMMAND (pinned to the last core),
#                                        keeping each round's `name value` lines in `round_outputs`
# rounds_median OURS REFERENCE           prints "ours reference" from the round whose OURS / REFERENCE is the median
core=$(($(nproc) - 1))
round_outputs=()

# `openssl speed` on the pinned core as `name value` lines: AES-256-GCM bytes/s at 16 KiB, ECDSA signs and
# verifies per second.
openssl_floor() {
    taskset -c "$core" openssl speed -mr -seconds "$1" -bytes 16384 -evp aes-256-gcm 2>/dev/null |
        awk -F: '/^\+F:/ {print "openssl-aes-256-gcm-16k", $4}'
    taskset -c "$core" openssl speed -mr -seconds "$1" ecdsap256 ecdsap384 2>/dev/null |
        awk -F: '/^\+F4:/ {print "openssl-ecdsa-p" $3 "-sign", $4; print "openssl-ecdsa-p" $3 "-verify", $5}'
}

rounds_run() {
    local rounds=$1 seconds=$2
    shift 2
    local round
    for ((round = 1; round <= rounds; round++)); do
        echo "  round $round of $rounds" >&2
        round_outputs+=("$(openssl_floor "$seconds"; taskset -c "$core" "$@")")
    done
}

rounds_median() {
    local output
    for output in "${round_outputs[@]}"; do
        awk -v a="$1" -v b="$2" '$1 == a {x = $2} $1 == b {y = $2} END {print x / y, x, y}' <<<"$output"
    done | sort -g | awk '{line[NR] = $2 " " $3} END {print line[int((NR + 1) / 2)]}'
}
