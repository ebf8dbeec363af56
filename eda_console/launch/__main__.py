import sys

from eda_console.launch.stack import stack_run

if __name__ == "__main__":
    sys.exit(stack_run())
