"""`python -m devidp <command>`: the same as `python devidp/manage.py <command>`."""

from devidp.manage import main

main()
