# bash completion for the gwkit daemons hbd(8), wsgwd(8) and logd(8): one file, since they
# share their options (wsgwd adds --raw); wsgwd.bash and logd.bash are links to it, so
# bash-completion finds it under each command's name.
_gwkit_daemon()
{
    local cur prev opts="-c --config -n -t --check -V --version -h --help"
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
    [[ ${COMP_WORDS[0]##*/} == wsgwd ]] && opts+=" --raw"
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    fi
}
complete -F _gwkit_daemon hbd wsgwd logd
