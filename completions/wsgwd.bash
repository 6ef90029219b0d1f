# bash completion for wsgwd(8): options, config files.
_wsgwd()
{
    local cur prev
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    case $prev in
    -c | --config)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "-c --config -n -t --check --raw -V --version -h --help" -- "$cur"))
    fi
}
complete -F _wsgwd wsgwd
