# bash completion for echo-backend(1): options.
_echo_backend()
{
    local cur prev
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    case $prev in
    --broadcast-every | --name)
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--broadcast-every --name --help --version" -- "$cur"))
    fi
}
complete -F _echo_backend echo-backend
