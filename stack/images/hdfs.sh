#!/bin/bash
# The hadoop image's entry point (Dockerfile, target hadoop).
#
#   hdfs.sh namenode | datanode   write core-site.xml and hdfs-site.xml from the variables
#                                 CORE-SITE.XML_<name> and HDFS-SITE.XML_<name>; the NameNode
#                                 formats with HDFS_CLUSTER_ID on first start; run the node
#   hdfs.sh healthy NODE          NODE is live at the NameNode, which has left safe mode
set -euo pipefail

conf=/opt/hadoop/etc
java_line=(java -Dhadoop.home.dir=/opt/hadoop -Dhadoop.log.dir=/opt/hadoop/logs
    -Dlog4j.configuration=file:/opt/hadoop/log4j.properties -Djava.net.preferIPv4Stack=true
    -cp "$conf:/opt/hadoop/lib/*")

site() {
    # The variables with this prefix as <property> elements (names hold dots: read env).
    local prefix=$1
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<configuration>'
    env | grep "^$prefix" | while IFS='=' read -r name value; do
        printf '  <property><name>%s</name><value>%s</value></property>\n' \
            "${name#"$prefix"}" "$value"
    done
    echo '</configuration>'
}

namenode_info() {
    curl -fsS --max-time 5 \
        "${NAMENODE_HTTP:-http://namenode:9870}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
}

case "${1:-}" in
namenode | datanode)
    site CORE-SITE.XML_ > "$conf/core-site.xml"
    site HDFS-SITE.XML_ > "$conf/hdfs-site.xml"
    if [ "$1" = namenode ]; then
        name_dir=$(sed -n 's|.*<name>dfs.namenode.name.dir</name><value>file://\(.*\)</value>.*|\1|p' \
            "$conf/hdfs-site.xml")
        if [ ! -f "$name_dir/current/VERSION" ]; then
            echo "namenode: formatting $name_dir (cluster $HDFS_CLUSTER_ID)"
            "${java_line[@]}" -Xmx256m org.apache.hadoop.hdfs.server.namenode.NameNode \
                -format -nonInteractive -clusterid "$HDFS_CLUSTER_ID"
        fi
        exec "${java_line[@]}" "${HDFS_HEAP:--Xmx512m}" \
            org.apache.hadoop.hdfs.server.namenode.NameNode
    fi
    exec "${java_line[@]}" "${HDFS_HEAP:--Xmx384m}" \
        org.apache.hadoop.hdfs.server.datanode.DataNode
    ;;
healthy)
    info=$(namenode_info)
    # The NameNode alone: it answers (in safe mode or not, it leaves it once DataNodes report).
    [ -z "${2:-}" ] && exit 0
    # Safemode is "" once the NameNode takes writes; LiveNodes keys are "<host>:<port>".
    grep -q '"Safemode" : ""' <<< "$info"
    grep -q "\\\\\"$2:" <<< "$info"
    ;;
*)
    echo "usage: hdfs.sh namenode | datanode | healthy [NODE]" >&2
    exit 2
    ;;
esac
