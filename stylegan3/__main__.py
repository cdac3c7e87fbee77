import sys

from stylegan3.cli.main import main

sys.exit(main())
