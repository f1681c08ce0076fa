from gpulab_apply.cli import main

main()
