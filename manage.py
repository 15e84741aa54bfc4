#!/usr/bin/env python3
from hotline.cli import main

if __name__ == "__main__":
    main()
