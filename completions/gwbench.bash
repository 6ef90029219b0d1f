# bash completion for gwbench(1)                                  -*- shell-script -*-

_gwbench()
{
    # Plain COMP_WORDS, so it works without the bash-completion package. COMP_WORDBREAKS
    # splits HOST:PORT at the colon; the target is completed as typed, not suggested.
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cword=$COMP_CWORD words=("${COMP_WORDS[@]}")
    COMPREPLY=()

    local modes="hb tcp ws log"
    local opts="-c --connections -t --threads -d --duration -R --rate --warmup --pipeline
        --timeout --size --send --expect --hb-service --check --syslog --format --framing --batch --idle
        --json --hist-out -q --quiet -h --help -V --version"

    case $prev in
    -c | --connections | -t | --threads | -R | --rate | --pipeline | --size | --batch | --send | \
        --expect | --hb-service)
        return
        ;;
    --syslog)
        COMPREPLY=($(compgen -W "udp tcp" -- "$cur"))
        return
        ;;
    --format)
        COMPREPLY=($(compgen -W "5424 3164" -- "$cur"))
        return
        ;;
    --framing)
        COMPREPLY=($(compgen -W "octet lf" -- "$cur"))
        return
        ;;
    -d | --duration | --warmup | --timeout)
        COMPREPLY=($(compgen -W "500ms 1s 5s 10s 30s 1m" -- "$cur"))
        return
        ;;
    --hist-out)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    # The first operand is the mode; the target (HOST:PORT) comes last.
    local i mode=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        -c | --connections | -t | --threads | -d | --duration | -R | --rate | --warmup | \
            --pipeline | --timeout | --size | --send | --expect | --hb-service | --hist-out | \
            --syslog | --format | --framing)
            ((i++))
            ;;
        -*) ;;
        *)
            mode=${words[i]}
            break
            ;;
        esac
    done
    if [[ -z $mode ]]; then
        COMPREPLY=($(compgen -W "$modes" -- "$cur"))
    fi
} &&
    complete -o default -F _gwbench gwbench
