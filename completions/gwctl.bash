# bash completion for gwctl(8) -- commands, options, programs, levels, states and, from the
# running hbd, service names. The word lists come from gwctl itself (gwctl __complete WHAT).

_gwctl_words()
{
    local i
    local -a conn=()

    # Pass the connection options already typed, so services come from the right hbd.
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        case ${COMP_WORDS[i]} in
        -s | --socket | --run-dir) conn+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
        --socket=* | --run-dir=*) conn+=("${COMP_WORDS[i]}") ;;
        esac
    done
    "${COMP_WORDS[0]}" "${conn[@]}" --timeout 1 __complete "$@" 2>/dev/null
}

_gwctl()
{
    local cur prev cmd i nargs=0
    local global_opts="-s --socket --run-dir --format --timeout -h --help -V --version"
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}

    case $prev in
    -s | --socket)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    --run-dir)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$cur"))
        return
        ;;
    --format)
        COMPREPLY=($(compgen -W "text json" -- "$cur"))
        return
        ;;
    --timeout | --code | --limit | --warning | --critical)
        return
        ;;
    --state)
        COMPREPLY=($(compgen -W "$(_gwctl_words states)" -- "$cur"))
        return
        ;;
    --severity)
        COMPREPLY=($(compgen -W "emerg alert crit err warning notice info debug" -- "$cur"))
        return
        ;;
    --app | --addr | -n)
        return
        ;;
    --url)
        COMPREPLY=($(compgen -W "http:// https://" -- "$cur"))
        compopt -o nospace 2>/dev/null
        return
        ;;
    esac

    # Find the command and count the operands typed after it.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -s | --socket | --run-dir | --format | --timeout | --state | --limit | --url | --code | \
            --app | --severity | --addr | -n | --warning | --critical) ((i++)) ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=${COMP_WORDS[i]}
            else
                ((nargs++))
            fi
            ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_gwctl_words commands)" -- "$cur"))
        fi
        return
    fi

    if [[ $cur == -* ]]; then
        local opts="--help --format --timeout -s --run-dir"
        case $cmd in
        services) opts+=" --state --limit" ;;
        health-check) opts+=" --url --warning --critical" ;;
        kick) opts+=" --code" ;;
        tail) opts+=" --follow --app --severity -n" ;;
        log) opts+=" --app --severity --addr --zstd" ;;
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    case $cmd in
    status)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "all $(_gwctl_words programs)" -- "$cur"))
        ;;
    health-check)
        COMPREPLY=($(compgen -W "$(_gwctl_words programs)" -- "$cur"))
        ;;
    validate)
        if ((nargs == 0)); then
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        ;;
    services | forget)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "$(_gwctl_words services)" -- "$cur"))
        ;;
    clients)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "$(_gwctl_words programs clients)" -- "$cur"))
        ;;
    log-level)
        if ((nargs == 0)); then
            COMPREPLY=($(compgen -W "$(_gwctl_words programs)" -- "$cur"))
        elif ((nargs == 1)); then
            COMPREPLY=($(compgen -W "$(_gwctl_words levels)" -- "$cur"))
        fi
        ;;
    reload | drain | shutdown | config | metrics | ping)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "$(_gwctl_words programs)" -- "$cur"))
        ;;
    help)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "$(_gwctl_words commands)" -- "$cur"))
        ;;
    esac
}

complete -F _gwctl gwctl
