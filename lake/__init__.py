"""What the Spark jobs share: lake settings, paths and the one place a SparkSession is built."""
